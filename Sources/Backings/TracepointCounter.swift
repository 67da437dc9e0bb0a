import CHostMemory
import Foundation
import Glibc

/// A perf counter of one kernel tracepoint (e.g. `kvm:kvm_age_hva`), counting the events the
/// calling thread triggers while it runs, on any CPU, from the moment it is opened. It reads
/// tracefs (never writes it) and enables nothing system-wide: the counter belongs to the fd and
/// goes with it.
public struct TracepointCounter: ~Copyable {
    let fd: Int32
    /// "kvm:kvm_age_hva".
    public let name: String

    /// tracefs mount points, in the order they are tried.
    public static let tracefsRoots = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]

    /// The tracepoint's id from tracefs (events/SYSTEM/EVENT/id), or why it cannot be read.
    public static func id(system: String, event: String, roots: [String] = tracefsRoots) -> Result<UInt64, TracepointUnavailable> {
        for root in roots {
            let path = "\(root)/events/\(system)/\(event)/id"
            if let text = try? String(contentsOfFile: path, encoding: .utf8),
               let id = UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                return .success(id)
            }
        }
        let mounted = roots.filter { FileManager.default.fileExists(atPath: $0 + "/events") }
        if mounted.isEmpty {
            return .failure(TracepointUnavailable("tracefs is not mounted (no \(roots.map { $0 + "/events" }.joined(separator: " or ")))"))
        }
        return .failure(TracepointUnavailable("the tracepoint \(system):\(event) is not in tracefs (\(mounted[0])/events/\(system)/\(event)/id absent)"))
    }

    /// Opens the counter on the calling thread.
    public init(system: String, event: String, roots: [String] = tracefsRoots) throws(TracepointUnavailable) {
        let id: UInt64
        switch Self.id(system: system, event: event, roots: roots) {
        case .success(let found): id = found
        case .failure(let reason): throw reason
        }
        let fd = chost_perf_tracepoint_counter(id)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            throw TracepointUnavailable("perf_event_open of the tracepoint \(system):\(event) (id \(id)) failed: \(reason) (needs root or kernel.perf_event_paranoid <= -1)")
        }
        self.fd = fd
        name = "\(system):\(event)"
    }

    /// Events counted so far.
    public func count() -> UInt64 {
        var value: UInt64 = 0
        // SAFETY: `value` is 8 writable bytes for the duration of the call; a counter fd reads as one u64.
        let got = withUnsafeMutableBytes(of: &value) { read(fd, $0.baseAddress, 8) }
        return got == 8 ? value : 0
    }

    deinit { close(fd) }
}

/// Why a tracepoint cannot be counted on this host.
public struct TracepointUnavailable: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
