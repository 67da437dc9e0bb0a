import Foundation
import KVM

/// Guest memory the host will not give this process: its memory cgroup (or an ancestor) has a
/// limit the guest would cross. Past the limit the kernel's OOM killer ends the whole process
/// (SIGKILL, nothing written), so the case is refused before its memory is touched.
public struct GuestMemoryShortage: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// The memory cgroup this process is charged to, cgroup v2 (memory.max, memory.current) or v1
/// (memory.limit_in_bytes, memory.usage_in_bytes), and how much more it may take.
public enum MemoryCgroup {
    /// One level of the hierarchy that has a limit.
    public struct Level: Sendable, Equatable {
        /// The cgroup's directory, e.g. /sys/fs/cgroup/ci-job.
        public var path: String
        public var limit: UInt64
        public var usage: UInt64
        /// Page cache in `usage`, which the kernel reclaims before it runs out.
        public var reclaimable: UInt64
        /// The name of the limit file (memory.max or memory.limit_in_bytes).
        public var limitFile: String
        public var room: UInt64 { limit > usage - min(usage, reclaimable) ? limit - (usage - min(usage, reclaimable)) : 0 }
    }

    /// The limited levels from this process's cgroup up to the root (empty when none limits memory).
    public static func limitedLevels() -> [Level] {
        guard let cgroups = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8),
              let mounts = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return [] }
        var levels: [Level] = []
        for line in cgroups.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let controllers = fields[1].split(separator: ",")
            let path = String(fields[2])
            if fields[0] == "0" && fields[1].isEmpty {
                // cgroup v2: the memory controller is enabled where memory.max exists.
                guard let mount = mountPoint(in: mounts, type: "cgroup2", option: nil) else { continue }
                levels += walk(from: join(mount, path), to: mount, limitFile: "memory.max", usageFile: "memory.current",
                               reclaimable: ["active_file", "inactive_file"])
            } else if controllers.contains("memory") {
                guard let mount = mountPoint(in: mounts, type: "cgroup", option: "memory") else { continue }
                levels += walk(from: join(mount, path), to: mount, limitFile: "memory.limit_in_bytes",
                               usageFile: "memory.usage_in_bytes", reclaimable: ["total_active_file", "total_inactive_file"])
            }
        }
        return levels
    }

    /// Throws when `bytes` more of memory charged to the memory cgroup would cross a limit.
    public static func checkRoom(for bytes: UInt64, what: String) throws(GuestMemoryShortage) {
        guard let tightest = limitedLevels().min(by: { $0.room < $1.room }), tightest.room < bytes else { return }
        throw GuestMemoryShortage(description:
            "\(what) needs \(formatBytes(bytes)) of memory, but the memory cgroup \(tightest.path) allows only \(formatBytes(tightest.room)) more "
            + "(\(tightest.limitFile) \(formatBytes(tightest.limit)), \(formatBytes(tightest.usage - min(tightest.usage, tightest.reclaimable))) in use); "
            + "the OOM killer would end kvmbench: raise the limit or run a smaller guest")
    }

    private static func join(_ mount: String, _ path: String) -> String {
        path == "/" ? mount : mount + path
    }

    /// The mount point of the first mount of `type` (with `option` among its super options).
    private static func mountPoint(in mountinfo: String, type: String, option: String?) -> String? {
        for line in mountinfo.split(separator: "\n") {
            // "36 35 0:30 / /sys/fs/cgroup/memory rw,relatime shared:15 - cgroup cgroup rw,memory"
            let halves = line.components(separatedBy: " - ")
            guard halves.count == 2 else { continue }
            let left = halves[0].split(separator: " "), right = halves[1].split(separator: " ")
            guard left.count >= 5, right.count >= 3, right[0] == type, left[3] == "/" else { continue }
            if let option, !right[2].split(separator: ",").contains(Substring(option)) { continue }
            return String(left[4])
        }
        return nil
    }

    private static func walk(from start: String, to mount: String, limitFile: String, usageFile: String,
                             reclaimable keys: [String]) -> [Level] {
        var levels: [Level] = []
        var directory = start
        while directory.hasPrefix(mount) {
            if let limit = number(directory + "/" + limitFile), limit < 1 << 62, let usage = number(directory + "/" + usageFile) {
                let stat = (try? String(contentsOfFile: directory + "/memory.stat", encoding: .utf8)) ?? ""
                var cache: UInt64 = 0
                for line in stat.split(separator: "\n") {
                    let parts = line.split(separator: " ")
                    if parts.count == 2, keys.contains(String(parts[0])), let value = UInt64(parts[1]) { cache += value }
                }
                levels.append(Level(path: directory, limit: limit, usage: usage, reclaimable: cache, limitFile: limitFile))
            }
            if directory == mount { break }
            directory = (directory as NSString).deletingLastPathComponent
        }
        return levels
    }

    /// A whole number in a cgroup file ("max" and a missing file are nil).
    private static func number(_ path: String) -> UInt64? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
