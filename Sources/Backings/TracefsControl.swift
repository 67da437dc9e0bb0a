import Foundation
import Glibc

/// How much kernel work the positive control adds to KVM's MMU paths.
public enum ControlLevel: String, CaseIterable, Sendable {
    /// `kvmmmu:kvm_mmu_set_spte` enabled: one trace record per SPTE KVM installs.
    case event
    /// The same event with `options/stacktrace`: a kernel stack trace with every record.
    case stacktrace

    public var describing: String {
        switch self {
        case .event: "\(TracefsControl.system):\(TracefsControl.event) enabled"
        case .stacktrace: "\(TracefsControl.system):\(TracefsControl.event) enabled with options/stacktrace"
        }
    }
}

/// The positive control's kernel-side slowdown: a trace event in KVM's MMU fault path, enabled
/// through tracefs so that every SPTE KVM installs costs a fixed amount of extra kernel work.
///
/// Everything happens in a tracefs instance of kvmbench's own (`instances/kvmbench-control-PID`,
/// with its own ring buffer, event switches and options), so the host's top-level trace buffer,
/// its events and options are never touched and whatever another user traces goes on unchanged.
/// Every step is recorded in the host-change ledger before it is made, under the ledger's lock:
/// mounting tracefs (only when it is mounted nowhere; at a kvmbench-owned mount point beside the
/// ledger, unmounted again on restore), creating the instance, and each file written with its
/// previous value. `remove()`, every exit path of the process (`HostChangeLedger.restoreOwn`) and,
/// after a SIGKILL, the next kvmbench (`restoreStale`) undo them, newest first.
public final class TracefsControl {
    public static let system = "kvmmmu"
    public static let event = "kvm_mmu_set_spte"

    public struct Unsupported: Error, CustomStringConvertible, Sendable, Equatable {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    public let level: ControlLevel
    /// The tracefs mount used (the host's own, or the one kvmbench made).
    public let root: String
    /// The instance directory, e.g. /sys/kernel/tracing/instances/kvmbench-control-1234.
    public let instance: String
    /// True when kvmbench mounted tracefs for this control.
    public let mounted: Bool
    private let changeIDs: [String]
    private var removed = false

    private init(level: ControlLevel, root: String, instance: String, mounted: Bool, changeIDs: [String]) {
        self.level = level
        self.root = root
        self.instance = instance
        self.mounted = mounted
        self.changeIDs = changeIDs
    }

    /// The first tracefs mount point in /proc/self/mountinfo, or nil when tracefs is mounted nowhere.
    public static func mountPoint(mountinfo: String? = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) -> String? {
        for line in (mountinfo ?? "").split(separator: "\n") {
            // "45 24 0:12 / /sys/kernel/tracing rw,nosuid,nodev,noexec,relatime shared:20 - tracefs tracefs rw"
            let halves = line.components(separatedBy: " - ")
            guard halves.count == 2 else { continue }
            let left = halves[0].split(separator: " "), right = halves[1].split(separator: " ")
            guard left.count >= 5, right.first == "tracefs" else { continue }
            return unescapeMountPath(String(left[4]))
        }
        return nil
    }

    /// mountinfo writes space, tab, newline and backslash in paths as octal escapes (\040).
    static func unescapeMountPath(_ path: String) -> String {
        guard path.contains("\\") else { return path }
        var out: [UInt8] = [], bytes = Array(path.utf8), index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\\"), index + 3 < bytes.count,
               let value = UInt8(String(decoding: bytes[(index + 1)...(index + 3)], as: UTF8.self), radix: 8) {
                out.append(value)
                index += 4
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Where kvmbench mounts tracefs when the host has it mounted nowhere: beside the ledger.
    static var ownMountPoint: String {
        HostChangeLedger.location.deletingLastPathComponent().appendingPathComponent("tracefs-\(getpid())").path
    }

    /// Why the control cannot run here without changing anything (no root, no tracefs in the
    /// kernel), or nil when `apply` may try. Whether the kvmmmu events exist is known only once
    /// tracefs is mounted: `apply` says so.
    public static func precheck(euid: uid_t = geteuid(),
                                mountinfo: String? = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8),
                                filesystems: String? = try? String(contentsOfFile: "/proc/filesystems", encoding: .utf8)) -> Unsupported? {
        if euid != 0 {
            return Unsupported("the positive control needs root (it mounts tracefs and enables \(system):\(event) in a tracefs instance); run kvmbench as root")
        }
        if mountPoint(mountinfo: mountinfo) == nil {
            let filesystems = filesystems ?? ""
            if !filesystems.split(separator: "\n").contains(where: { $0.split(whereSeparator: \.isWhitespace).last == "tracefs" }) {
                return Unsupported("this kernel has no tracefs (not in /proc/filesystems; CONFIG_TRACING unset)")
            }
        }
        return nil
    }

    /// Turns the control on: mounts tracefs if needed, creates kvmbench's instance and enables the
    /// event (and stack traces at `.stacktrace`), each step recorded in the ledger first. On any
    /// failure what was done is undone and the reason thrown.
    public static func apply(_ level: ControlLevel) throws(Unsupported) -> TracefsControl {
        if let problem = precheck() { throw problem }
        var ids: [String] = []
        var made: (root: String, instance: String, mounted: Bool)?
        do {
            made = try HostChangeLedger.transaction { ledger throws(HostChangeLedger.Failure) -> (String, String, Bool) in
                var root = mountPoint() ?? ""
                var mounted = false
                if root.isEmpty {
                    root = ownMountPoint
                    let change = HostChange(kind: .tracefsMount, subject: "tracefs mount", path: root, before: 0, amount: 1)
                    try ledger.record(change)
                    ids.append(change.id)
                    guard mkdir(root, 0o700) == 0 || errno == EEXIST else {
                        throw .init("cannot create the mount point \(root) for tracefs: \(String(cString: strerror(errno)))")
                    }
                    guard Glibc.mount("nodev", root, "tracefs", 0, nil) == 0 else {
                        throw .init("cannot mount tracefs at \(root): \(String(cString: strerror(errno)))")
                    }
                    mounted = true
                }
                let eventDirectory = "\(root)/events/\(system)/\(event)"
                guard FileManager.default.fileExists(atPath: eventDirectory + "/enable") else {
                    let systemThere = FileManager.default.fileExists(atPath: "\(root)/events/\(system)")
                    throw .init(systemThere
                        ? "the trace event \(system):\(event) is not in tracefs (\(eventDirectory) absent)"
                        : "the \(system) trace events are not in tracefs (\(root)/events/\(system) absent: KVM not loaded, or built without them)")
                }
                guard FileManager.default.fileExists(atPath: "\(root)/instances") else {
                    throw .init("tracefs at \(root) has no instances/ directory, where kvmbench keeps its own trace buffer")
                }
                let instance = "\(root)/instances/kvmbench-control-\(getpid())"
                let created = HostChange(kind: .tracefsInstance, subject: "tracefs instance", path: instance, before: 0, amount: 1,
                                         origin: root)
                try ledger.record(created)
                ids.append(created.id)
                guard mkdir(instance, 0o755) == 0 else {
                    throw .init("cannot create the tracefs instance \(instance): \(String(cString: strerror(errno)))")
                }
                var settings = ["events/\(system)/\(event)/enable"]
                if level == .stacktrace { settings.append("options/stacktrace") }
                for setting in settings {
                    let path = "\(instance)/\(setting)"
                    guard let before = readSwitch(path) else {
                        throw .init("cannot read \(path) (\(String(describing: try? String(contentsOfFile: path, encoding: .utf8)))): not a 0/1 switch")
                    }
                    let change = HostChange(kind: .tracefsSetting, subject: setting, path: path, before: before, amount: 1)
                    try ledger.record(change)
                    ids.append(change.id)
                    guard writeSwitch(path, 1), readSwitch(path) == 1 else {
                        throw .init("cannot write 1 to \(path): \(String(cString: strerror(errno)))")
                    }
                    try ledger.update(change.id) { $0.confirmed = true }
                }
                return (root, instance, mounted)
            }
        } catch {
            let recorded = ids
            if let line = HostChangeLedger.restore(including: { recorded.contains($0.id) }, action: nil) {
                FileHandle.standardError.write(Data("kvmbench: \(line)\n".utf8))
            }
            throw Unsupported(error.description)
        }
        guard let made else { throw Unsupported("the control was not applied") }
        HostChangeLedger.restoreOwnAtExit
        return TracefsControl(level: level, root: made.root, instance: made.instance, mounted: made.mounted, changeIDs: ids)
    }

    /// Events the instance recorded so far (entries plus overruns of every CPU's buffer), or nil
    /// when its statistics cannot be read: shows the control fired.
    public func eventsRecorded() -> Int? {
        guard let cpus = try? FileManager.default.contentsOfDirectory(atPath: instance + "/per_cpu") else { return nil }
        var total = 0
        for cpu in cpus where cpu.hasPrefix("cpu") {
            guard let text = try? String(contentsOfFile: "\(instance)/per_cpu/\(cpu)/stats", encoding: .utf8) else { continue }
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
                if parts.count == 2, parts[0] == "entries" || parts[0] == "overrun", let value = Int(parts[1]) { total += value }
            }
        }
        return total
    }

    /// Turns the control off: every step undone through the ledger, newest first. Idempotent.
    public func remove() {
        guard !removed else { return }
        removed = true
        let ids = changeIDs
        if let line = HostChangeLedger.restore(including: { ids.contains($0.id) }, action: nil) {
            FileHandle.standardError.write(Data("kvmbench: \(line)\n".utf8))
        }
    }

    deinit { remove() }

    /// A tracefs switch file's value: "0" or "1" (an enable file of a soft-disabled event reads
    /// "0*" or "1*", which is no plain switch: nil).
    static func readSwitch(_ path: String) -> Int? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        switch text.trimmingCharacters(in: .whitespacesAndNewlines) {
        case "0": return 0
        case "1": return 1
        default: return nil
        }
    }

    static func writeSwitch(_ path: String, _ value: Int) -> Bool {
        MemoryCgroupChange.write("\(value)\n", to: path)
    }

    /// Undoing a tracefs change (see `HostChange.undo`).
    static func undo(_ change: HostChange) throws(HostChangeLedger.Failure) -> String {
        switch change.kind {
        case .tracefsSetting:
            guard FileManager.default.fileExists(atPath: change.path) else { return "\(change.path): already gone" }
            let now = readSwitch(change.path)
            if now != change.before {
                guard writeSwitch(change.path, change.before), readSwitch(change.path) == change.before else {
                    throw .init("cannot write \(change.before) to \(change.path): \(String(cString: strerror(errno))) (needs root); run `kvmbench restore` as root")
                }
            }
            return "\(change.path) \(now.map(String.init) ?? "?") -> \(change.before)"
        case .tracefsInstance:
            guard rmdir(change.path) == 0 || errno == ENOENT else {
                throw .init("cannot remove the tracefs instance \(change.path): \(String(cString: strerror(errno))); run `kvmbench restore` as root")
            }
            return "tracefs instance \(change.path) removed"
        case .tracefsMount:
            if mountPoints(of: "tracefs").contains(change.path) {
                guard umount2(change.path, 0) == 0 || umount2(change.path, Int32(MNT_DETACH)) == 0 else {
                    throw .init("cannot unmount tracefs at \(change.path): \(String(cString: strerror(errno))); run `kvmbench restore` as root")
                }
            }
            guard rmdir(change.path) == 0 || errno == ENOENT else {
                throw .init("cannot remove the mount point \(change.path): \(String(cString: strerror(errno)))")
            }
            return "tracefs at \(change.path) unmounted"
        default:
            throw .init("\(change.kind.rawValue) is not a tracefs change")
        }
    }

    /// Every mount point of `type` in /proc/self/mountinfo.
    static func mountPoints(of type: String) -> [String] {
        let text = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let halves = line.components(separatedBy: " - ")
            guard halves.count == 2 else { return nil }
            let left = halves[0].split(separator: " ")
            guard left.count >= 5, halves[1].split(separator: " ").first.map(String.init) == type else { return nil }
            return unescapeMountPath(String(left[4]))
        }
    }
}
