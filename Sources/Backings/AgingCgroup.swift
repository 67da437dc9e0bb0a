import Foundation
import Glibc

/// A memory cgroup of kvmbench's own that this process moves into for the length of a case, so
/// the guest memory it faults in afterwards is charged to a memcg holding nothing else of note,
/// whose LRU pages MGLRU can age and count (the kernel selftests' access_tracking_perf_test does
/// the same with its "access_tracking_perf_test" memcg).
///
/// cgroup v2: a child of the hierarchy's root (a populated non-root cgroup cannot hand the memory
/// controller to a child); v1: a child of this process's own memory cgroup (its limits still
/// apply). Recorded in the host-change ledger before it is made; `leave()` (or deinit, or
/// `kvmbench restore` after a crash) moves the processes back and removes the directory.
public final class AgingCgroup {
    /// The cgroup's directory, e.g. /sys/fs/cgroup/kvmbench-aging-1234.
    public let directory: String
    /// Its path inside the hierarchy, as the kernel prints it (/kvmbench-aging-1234).
    public let hierarchyPath: String
    /// "v2" or "v1".
    public let version: String
    private let changeID: String
    private var left = false

    public struct Unavailable: Error, CustomStringConvertible, Sendable, Equatable {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// Where the memory controller's hierarchy is mounted and this process's place in it.
    struct Hierarchy: Equatable {
        var mount: String
        var ownPath: String
        var version: String
    }

    /// The memory controller's hierarchy from /proc/self/cgroup and /proc/self/mountinfo (v2 when
    /// its root hands out the memory controller, else v1), or why there is none.
    static func memoryHierarchy(cgroups: String, mountinfo: String, controllers: (String) -> String?) -> Result<Hierarchy, Unavailable> {
        var v2Path: String?, v1Path: String?
        for line in cgroups.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            if fields[0] == "0" && fields[1].isEmpty { v2Path = String(fields[2]) }
            if fields[1].split(separator: ",").contains("memory") { v1Path = String(fields[2]) }
        }
        var v2Mount: String?, v1Mount: String?
        for line in mountinfo.split(separator: "\n") {
            let halves = line.components(separatedBy: " - ")
            guard halves.count == 2 else { continue }
            let left = halves[0].split(separator: " "), right = halves[1].split(separator: " ")
            guard left.count >= 5, right.count >= 3, left[3] == "/" else { continue }
            if right[0] == "cgroup2", v2Mount == nil { v2Mount = String(left[4]) }
            if right[0] == "cgroup", right[2].split(separator: ",").contains("memory"), v1Mount == nil { v1Mount = String(left[4]) }
        }
        if let mount = v2Mount, let path = v2Path, (controllers(mount + "/cgroup.subtree_control") ?? "").split(whereSeparator: \.isWhitespace).contains("memory") {
            return .success(Hierarchy(mount: mount, ownPath: path, version: "v2"))
        }
        if let mount = v1Mount, let path = v1Path {
            return .success(Hierarchy(mount: mount, ownPath: path, version: "v1"))
        }
        if let mount = v2Mount {
            return .failure(Unavailable("the cgroup v2 root \(mount) does not hand out the memory controller (no 'memory' in \(mount)/cgroup.subtree_control) and no cgroup v1 memory hierarchy is mounted"))
        }
        return .failure(Unavailable("no memory cgroup hierarchy is mounted (neither cgroup2 nor a cgroup v1 'memory' mount in /proc/self/mountinfo)"))
    }

    /// Creates the cgroup and moves this whole process (every thread) into it.
    public static func join() throws(Unavailable) -> AgingCgroup {
        let cgroups = (try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)) ?? ""
        let mountinfo = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        let hierarchy: Hierarchy
        switch memoryHierarchy(cgroups: cgroups, mountinfo: mountinfo, controllers: { try? String(contentsOfFile: $0, encoding: .utf8) }) {
        case .success(let found): hierarchy = found
        case .failure(let reason): throw reason
        }
        let origin = hierarchy.ownPath == "/" ? hierarchy.mount : hierarchy.mount + hierarchy.ownPath
        let parentPath = hierarchy.version == "v2" || hierarchy.ownPath == "/" ? "" : hierarchy.ownPath
        let name = "kvmbench-aging-\(getpid())"
        let hierarchyPath = parentPath + "/" + name
        let directory = hierarchy.mount + hierarchyPath
        let change = HostChange(kind: .memoryCgroup, subject: "memory cgroup", path: directory, before: 0, amount: 1, origin: origin)
        do {
            try HostChangeLedger.transaction { ledger throws(HostChangeLedger.Failure) in try ledger.record(change) }
        } catch {
            throw Unavailable("cannot record the memory cgroup in the host-change ledger: \(error)")
        }
        let cgroup = AgingCgroup(directory: directory, hierarchyPath: hierarchyPath, version: hierarchy.version, changeID: change.id)
        guard mkdir(directory, 0o755) == 0 || errno == EEXIST else {
            let reason = String(cString: strerror(errno))
            cgroup.leave()
            throw Unavailable("cannot create the memory cgroup \(directory): \(reason) (needs root)")
        }
        guard MemoryCgroupChange.write("\(getpid())", to: directory + "/cgroup.procs") else {
            let reason = String(cString: strerror(errno))
            cgroup.leave()
            throw Unavailable("cannot move kvmbench into the memory cgroup \(directory): \(reason)")
        }
        return cgroup
    }

    private init(directory: String, hierarchyPath: String, version: String, changeID: String) {
        self.directory = directory
        self.hierarchyPath = hierarchyPath
        self.version = version
        self.changeID = changeID
    }

    /// Whether this process is in the cgroup now (/proc/self/cgroup names it).
    public var containsThisProcess: Bool {
        ((try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)) ?? "")
            .split(separator: "\n").contains { $0.hasSuffix(":" + hierarchyPath) }
    }

    /// Moves the processes back and removes the cgroup (through the ledger). Idempotent.
    public func leave() {
        guard !left else { return }
        left = true
        let id = changeID
        if let line = HostChangeLedger.restore(including: { $0.id == id }, action: nil) {
            FileHandle.standardError.write(Data("kvmbench: \(line)\n".utf8))
        }
    }

    deinit { leave() }
}

/// Undoing a `memoryCgroup` change.
enum MemoryCgroupChange {
    static func write(_ text: String, to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        return Glibc.write(fd, bytes, bytes.count) == bytes.count
    }

    /// Moves every process left in `path` to `origin` (or the hierarchy's root if `origin` is gone) and removes `path`.
    static func undo(path: String, origin: String?, subject: String) throws(HostChangeLedger.Failure) -> String {
        guard FileManager.default.fileExists(atPath: path) else { return "\(subject) \(path): already gone" }
        let target = origin.flatMap { FileManager.default.fileExists(atPath: $0 + "/cgroup.procs") ? $0 : nil }
        let procs = ((try? String(contentsOfFile: path + "/cgroup.procs", encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init)
        var moved = 0
        for pid in procs {
            guard let target else { break }
            if write(pid, to: target + "/cgroup.procs") { moved += 1 }
        }
        guard rmdir(path) == 0 || errno == ENOENT else {
            let reason = String(cString: strerror(errno))
            throw .init("cannot remove \(path): \(reason) (\(procs.count - moved) process(es) still in it); run `kvmbench restore` as root")
        }
        return "\(subject) \(path) removed, \(moved) process(es) moved back to \(target ?? "?")"
    }
}
