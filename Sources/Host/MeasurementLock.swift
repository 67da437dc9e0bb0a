import Backings
import Foundation
import Glibc
import Synchronization

/// One measuring kvmbench per host at a time: two processes measuring on a 2-core host each
/// measure the other, and neither's figures mean anything. `run`, `suite`, `gate` and `selftest`
/// hold this lock (flock(2), released by the kernel when the process ends however it ends) from
/// just before their first guest until they exit; a second one waits for it, or with `wait: false`
/// refuses with one line.
///
/// The lock file sits beside the host-change ledger (`HostChangeLedger.location`:
/// /run/kvmbench/measuring.lock as root), so `KVMBENCH_LEDGER` moves both. The holder writes its
/// pid and command line into it, for the waiting process to name.
public enum MeasurementLock {
    public struct Busy: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// The lock file in use.
    public static var location: URL {
        HostChangeLedger.location.deletingLastPathComponent().appendingPathComponent("measuring.lock")
    }

    /// The descriptor whose flock this process holds; kept open until the process exits.
    private static let held = Mutex<Int32?>(nil)

    /// Takes the host's measurement lock (once per process; later calls return at once). When
    /// another process holds it: with `wait`, `waiting` gets one line naming the holder and the call
    /// blocks until it is free; without, throws `Busy` naming the holder.
    public static func acquire(wait: Bool, waiting: (String) -> Void) throws(Busy) {
        if held.withLock({ $0 }) != nil { return }
        let url = location
        let directory = url.deletingLastPathComponent().path
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw Busy(description: "cannot create \(directory) for the measurement lock: \(String(cString: strerror(errno))); set KVMBENCH_LEDGER to a file in a writable folder")
        }
        let fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw Busy(description: "cannot open the measurement lock \(url.path): \(String(cString: strerror(errno)))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let holder = describeHolder(fd)
            guard errno == EWOULDBLOCK || errno == EINTR, wait else {
                close(fd)
                throw Busy(description: "another kvmbench is measuring on this host (\(holder)); two at once would each measure the other: wait for it, or leave out --no-wait to queue behind it")
            }
            waiting("waiting for another kvmbench measuring on this host (\(holder)) to finish")
            while flock(fd, LOCK_EX) != 0 {
                guard errno == EINTR else {
                    close(fd)
                    throw Busy(description: "cannot lock \(url.path): \(String(cString: strerror(errno)))")
                }
            }
        }
        // The note is for the next waiter only; a write that fails costs it the holder's name.
        let note = "pid \(getpid()) since \(ISO8601DateFormatter().string(from: Date())): "
            + CommandLine.arguments.joined(separator: " ")
        _ = ftruncate(fd, 0)
        _ = note.withCString { pwrite(fd, $0, strlen($0), 0) }
        held.withLock { $0 = fd }
    }

    /// True while this process holds the lock.
    public static var isHeld: Bool { held.withLock { $0 } != nil }

    /// What the holder wrote into the lock file ("pid 1234 since ...: kvmbench suite nightly").
    private static func describeHolder(_ fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 512)
        // SAFETY: pread writes at most `count` bytes into the array's own storage, which lives for the call.
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        let text = count > 0 ? String(decoding: buffer.prefix(count), as: UTF8.self) : ""
        let line = text.split(separator: "\n").first.map(String.init) ?? ""
        return line.isEmpty ? "holder unknown" : line
    }
}
