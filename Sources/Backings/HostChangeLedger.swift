import Foundation
import Glibc
import Synchronization

/// A process that made a host change: its pid, its start time and the boot it ran in.
///
/// The start time is field 22 of /proc/PID/stat (clock ticks after boot): a pid the kernel has
/// handed to a new process since has another start time, so a reused pid never passes for the owner.
public struct LedgerOwner: Codable, Sendable, Equatable {
    public var pid: Int32
    public var startTime: UInt64
    /// /proc/sys/kernel/random/boot_id of the boot the owner ran in.
    public var bootID: String

    public init(pid: Int32, startTime: UInt64, bootID: String) {
        self.pid = pid
        self.startTime = startTime
        self.bootID = bootID
    }

    /// This process.
    public static let current = LedgerOwner(pid: getpid(), startTime: startTime(of: getpid()) ?? 0, bootID: currentBootID)

    static let currentBootID: String =
        ((try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)

    /// Field 22 (starttime) of /proc/PID/stat, or nil when no such process exists.
    public static func startTime(of pid: Int32) -> UInt64? {
        guard let fields = ProcessStat.fields(pid: Int(pid)), fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }

    public enum State: String, Sendable { case live, gone, earlierBoot = "earlier boot" }

    /// Whether the owner still runs (same pid and start time in this boot).
    public var state: State {
        if !bootID.isEmpty && !Self.currentBootID.isEmpty && bootID != Self.currentBootID { return .earlierBoot }
        return Self.startTime(of: pid) == startTime ? .live : .gone
    }
}

/// /proc/PID/stat of one process.
public enum ProcessStat {
    /// The fields after "pid (comm)", field 3 (state) first; nil when the process is gone. comm
    /// may hold spaces and parentheses, so the split starts after its last ")".
    public static func fields(pid: Int) -> [Substring]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }
}

/// What kind of host setting a change touched; each kind knows how to undo itself.
/// A new kind of change adds a case here and its branch in `HostChange.undo()`.
public enum HostChangeKind: String, Codable, Sendable {
    /// nr_hugepages of a hugetlb pool grown by `amount` pages.
    case hugepages
    /// A memory cgroup kvmbench created (`path`) and moved itself into from `origin`
    /// (access-tracking ages that cgroup's pages): undone by moving every process still in it
    /// back to `origin` and removing it.
    case memoryCgroup = "memory-cgroup"
    /// tracefs mounted by kvmbench at `path` (it was mounted nowhere): undone by unmounting it and
    /// removing the mount point.
    case tracefsMount = "tracefs-mount"
    /// A tracefs instance (`path`, under instances/) kvmbench created: undone by removing it, which
    /// frees its buffer and turns its events off.
    case tracefsInstance = "tracefs-instance"
    /// A tracefs switch file (`path`) set to `amount` that held `before`: undone by writing `before` back.
    case tracefsSetting = "tracefs-setting"
    /// A sysfs or procfs setting (`path`) an A/B side set (`kvmbench ab --a-set/--b-set`) that
    /// held `text`: undone by writing `text` back.
    case setting

    /// The tracefs kinds (the positive control's changes).
    public static let tracefs: Set<HostChangeKind> = [.tracefsMount, .tracefsInstance, .tracefsSetting]
    /// What a case sets up for itself and the end of the case undoes; a positive control's tracefs
    /// settings span many cases and are undone by their owner.
    public static let perCase: Set<HostChangeKind> = [.hugepages, .memoryCgroup]
}

/// One change kvmbench made to the host, recorded before it was made.
public struct HostChange: Codable, Sendable, Equatable {
    public var id: String
    public var kind: HostChangeKind
    /// What was changed, for people: "2M hugepage pool".
    public var subject: String
    /// The file the change wrote (e.g. .../hugepages-2048kB/nr_hugepages).
    public var path: String
    /// The value before the change.
    public var before: Int
    /// How much kvmbench added: what it asked for until `confirmed`, then what the kernel gave.
    public var amount: Int
    /// False between recording the change and reading back what the kernel did.
    public var confirmed: Bool
    public var owner: LedgerOwner
    public var recordedAt: Date
    /// Where the change's processes came from (`memoryCgroup`: the cgroup directory to move them back to).
    public var origin: String?
    /// A setting's value before the change, as text (`setting`: "madvise").
    public var text: String?

    public init(kind: HostChangeKind, subject: String, path: String, before: Int, amount: Int, owner: LedgerOwner = .current,
                origin: String? = nil) {
        self.id = UUID().uuidString
        self.kind = kind
        self.subject = subject
        self.path = path
        self.before = before
        self.amount = amount
        self.confirmed = false
        self.owner = owner
        self.recordedAt = Date()
        self.origin = origin
    }

    /// "2M hugepage pool +16 page(s) (was 0)".
    public var summary: String {
        switch kind {
        case .hugepages: return "\(subject) +\(amount) page(s) (was \(before))"
        case .memoryCgroup: return "\(subject) \(path) (from \(origin ?? "?"))"
        case .tracefsMount: return "tracefs mounted at \(path)"
        case .tracefsInstance: return "tracefs instance \(path)"
        case .tracefsSetting: return "\(path) = \(amount) (was \(before))"
        case .setting: return "\(path) (was \(text ?? "?"))"
        }
    }

    /// Takes the change back; a line saying what it did, or throws why it cannot.
    ///
    /// A hugepage pool shrinks by the pages this change added (not to `before`): another kvmbench
    /// may have grown the same pool since, and its pages stay. Pages still mapped by a live guest
    /// become surplus pages, which the kernel frees when they are unmapped.
    func undo() throws(HostChangeLedger.Failure) -> String {
        switch kind {
        case .hugepages:
            guard let now = HostChangeLedger.readInteger(path) else {
                throw .init("cannot read \(path) to restore the \(subject)")
            }
            // Unconfirmed: the owner died between asking and reading back; the kernel gave at most `amount`.
            let added = confirmed ? amount : max(0, min(amount, now - before))
            let target = max(0, now - added)
            if target != now {
                guard HostChangeLedger.writeInteger(path, target) else {
                    throw .init("cannot write \(path) to restore the \(subject) to \(target) page(s) (needs root); run `kvmbench restore` as root")
                }
            }
            return "\(subject) \(now) -> \(target) page(s)"
        case .memoryCgroup:
            return try MemoryCgroupChange.undo(path: path, origin: origin, subject: subject)
        case .tracefsMount, .tracefsInstance, .tracefsSetting:
            return try TracefsControl.undo(self)
        case .setting:
            return try HostSetting.undo(self)
        }
    }
}

/// The file where kvmbench records every change it makes to the host before it makes it, so a
/// process that dies without cleaning up (SIGKILL, the OOM killer, a crash) leaves a note that
/// the next kvmbench acts on: it undoes the changes of owners that are gone (`restoreStale`).
///
/// Location: $KVMBENCH_LEDGER if set; else /run/kvmbench/ledger.json when /run is writable
/// (root; /run is a tmpfs, so a reboot, which resets the pools, also clears the ledger); else
/// $XDG_RUNTIME_DIR/kvmbench/ledger.json; else /tmp/kvmbench-UID/ledger.json.
///
/// Concurrent kvmbench processes share it: every read-modify-write holds flock(2) on a lock file
/// beside it (ledger.json.lock; the ledger itself is replaced by rename(2) on every rewrite, so
/// it cannot carry the lock) and the new ledger is written to a temporary file, fsync'd and renamed.
public enum HostChangeLedger {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// The ledger file in use.
    public static var location: URL {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["KVMBENCH_LEDGER"], !path.isEmpty { return URL(fileURLWithPath: path) }
        if access("/run", W_OK) == 0 { return URL(fileURLWithPath: "/run/kvmbench/ledger.json") }
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty, access(runtime, W_OK) == 0 {
            return URL(fileURLWithPath: runtime).appendingPathComponent("kvmbench/ledger.json")
        }
        return URL(fileURLWithPath: "/tmp/kvmbench-\(getuid())/ledger.json")
    }

    /// Changes this process recorded and has not undone yet (ids).
    private static let ownChanges = Mutex<Set<String>>([])

    private struct File: Codable {
        var version = 1
        var changes: [HostChange] = []
    }

    /// The ledger while its lock is held: read, change, `save()`.
    public final class Transaction {
        public fileprivate(set) var changes: [HostChange]
        let url: URL
        fileprivate init(url: URL, changes: [HostChange]) {
            self.url = url
            self.changes = changes
        }

        /// Records `change` and writes the ledger before returning: call it before touching the host.
        public func record(_ change: HostChange) throws(Failure) {
            changes.append(change)
            try save()
            if change.owner == .current { HostChangeLedger.ownChanges.withLock { _ = $0.insert(change.id) } }
        }

        /// Updates the change with `id` (e.g. what the kernel really gave) and writes the ledger.
        public func update(_ id: String, _ edit: (inout HostChange) -> Void) throws(Failure) {
            guard let index = changes.firstIndex(where: { $0.id == id }) else { return }
            edit(&changes[index])
            try save()
        }

        func remove(_ id: String) throws(Failure) {
            changes.removeAll { $0.id == id }
            try save()
            HostChangeLedger.ownChanges.withLock { _ = $0.remove(id) }
        }

        func save() throws(Failure) {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            guard let data = try? encoder.encode(File(changes: changes)) else { throw Failure("cannot encode the host-change ledger") }
            try HostChangeLedger.atomicWrite(data, to: url)
        }
    }

    /// Runs `body` with the ledger locked (flock on ledger.json.lock, waiting for other kvmbench processes).
    public static func transaction<T>(_ body: (Transaction) throws(Failure) -> T) throws(Failure) -> T {
        let url = location
        let directory = url.deletingLastPathComponent().path
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw Failure("cannot create \(directory) for the host-change ledger: \(String(cString: strerror(errno))); set KVMBENCH_LEDGER to a writable file")
        }
        let lockPath = url.path + ".lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw Failure("cannot open \(lockPath) to lock the host-change ledger: \(String(cString: strerror(errno))); set KVMBENCH_LEDGER to a writable file")
        }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw Failure("cannot lock \(lockPath): \(String(cString: strerror(errno)))") }
        }
        defer { _ = flock(fd, LOCK_UN) }
        return try body(Transaction(url: url, changes: read(url)))
    }

    /// The recorded changes (empty when there is no ledger, or it cannot be read).
    public static func entries() -> [HostChange] {
        let url = location
        guard FileManager.default.fileExists(atPath: url.path) else { return [] }
        return (try? transaction { $0.changes }) ?? []
    }

    /// Undoes the changes of owners that are gone and drops those of an earlier boot (a reboot
    /// reset them). Returns one line for the user, or nil when there was nothing to do. Cheap when
    /// there is no ledger file.
    public static func restoreStale() -> String? {
        guard FileManager.default.fileExists(atPath: location.path) else { return nil }
        return restore(including: { $0.owner.state != .live }, action: "restored the host changes of kvmbench processes that are gone")
    }

    /// Registers, once per process, the undoing of this process's changes when it exits through
    /// exit(3) (a usage error or any `fail` while a change spanning cases is in effect); signals go
    /// through the run session's handler.
    public static let restoreOwnAtExit: Void = {
        atexit { HostChangeLedger.restoreOwn() }
    }()

    /// Undoes every change this process recorded (of `kinds` only, when given). Idempotent; no
    /// file access when there is none.
    public static func restoreOwn(kinds: Set<HostChangeKind>? = nil) {
        let own = ownChanges.withLock { $0 }
        guard !own.isEmpty else { return }
        if let line = restore(including: { change in own.contains(change.id) && (kinds?.contains(change.kind) ?? true) }, action: nil) {
            FileHandle.standardError.write(Data("kvmbench: \(line)\n".utf8))
        }
    }

    /// Undoes the changes `including` selects, newest first (a change may depend on an earlier one:
    /// a tracefs setting on its instance, the instance on the mount); a line saying what was done
    /// (or what failed), or nil when nothing was selected. Without `action`, only failures make a line.
    @discardableResult
    public static func restore(including: (HostChange) -> Bool, action: String?) -> String? {
        do {
            return try transaction { ledger throws(Failure) -> String? in
                var done: [String] = [], failed: [String] = []
                for change in ledger.changes.reversed() where including(change) {
                    if change.owner.state == .earlierBoot {
                        done.append("\(change.subject): from an earlier boot, dropped")
                        try ledger.remove(change.id)
                        continue
                    }
                    do {
                        let line = try change.undo()
                        try ledger.remove(change.id)
                        done.append("\(line) (pid \(change.owner.pid))")
                    } catch {
                        failed.append("\(change.summary) of pid \(change.owner.pid): \(error)")
                    }
                }
                if done.isEmpty && failed.isEmpty { return nil }
                var parts: [String] = []
                if !done.isEmpty, let action { parts.append("\(action): \(done.joined(separator: "; "))") }
                if !failed.isEmpty { parts.append("could not restore \(failed.joined(separator: "; "))") }
                return parts.isEmpty ? nil : parts.joined(separator: "; ")
            }
        } catch {
            return "cannot restore host changes: \(error)"
        }
    }

    private static func read(_ url: URL) throws(Failure) -> [HostChange] {
        guard let data = FileManager.default.contents(atPath: url.path), !data.isEmpty else { return [] }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        guard let file = try? decoder.decode(File.self, from: data) else {
            throw Failure("\(url.path) is not a kvmbench host-change ledger; check it, then delete it")
        }
        return file.changes
    }

    static func atomicWrite(_ data: Data, to url: URL) throws(Failure) {
        // rename(2) over a device (KVMBENCH_LEDGER=/dev/null) would replace the node with a plain file.
        var status = stat()
        if lstat(url.path, &status) == 0, status.st_mode & S_IFMT != S_IFREG {
            throw Failure("the host-change ledger \(url.path) is not a regular file; set KVMBENCH_LEDGER to a writable file")
        }
        let temporary = url.path + ".\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure("cannot write \(temporary): \(String(cString: strerror(errno))); set KVMBENCH_LEDGER to a writable file") }
        let written = data.withUnsafeBytes { bytes in
            // SAFETY: `bytes` is the buffer of `data`, valid for its count during this call.
            write(fd, bytes.baseAddress, bytes.count)
        }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == data.count, synced, rename(temporary, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw Failure("cannot write the host-change ledger \(url.path): \(reason)")
        }
    }

    static func readInteger(_ path: String) -> Int? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    static func writeInteger(_ path: String, _ value: Int) -> Bool {
        guard let handle = FileHandle(forWritingAtPath: path) else { return false }
        defer { try? handle.close() }
        do { try handle.write(contentsOf: Data("\(value)\n".utf8)) } catch { return false }
        return true
    }
}
