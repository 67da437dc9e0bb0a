import CHostMemory
import CNUMA
import Foundation
import Glibc
import Results

/// Why a placement request cannot be met, as one line naming the flag, what is allowed and what
/// this host has. Scenarios turn it into a `ParameterError`.
public struct PlacementError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Logical CPU numbers in the kernel's list syntax ("0-3,8,10-11"), as sysfs, taskset and the
/// selftests' `-c` write them.
public enum CPUList {
    /// "0,1", "0-3", "0-1,4": the CPUs in the order written (duplicates kept). nil when malformed.
    public static func parse(_ text: String) -> [Int]? {
        var out: [Int] = []
        let items = text.split(separator: ",", omittingEmptySubsequences: false)
        guard !items.isEmpty else { return nil }
        for item in items {
            let part = item.trimmingCharacters(in: .whitespaces)
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard bounds.count == 1 || bounds.count == 2,
                  let low = Int(bounds[0]), low >= 0,
                  let high = bounds.count == 2 ? Int(bounds[1]) : low, high >= low, high - low < 65536 else { return nil }
            out.append(contentsOf: low...high)
        }
        return out
    }

    /// The compact form of a set of CPUs: [0, 1, 2, 5] -> "0-2,5".
    public static func format(_ cpus: [Int]) -> String {
        let sorted = Array(Set(cpus)).sorted()
        var parts: [String] = []
        var index = 0
        while index < sorted.count {
            var end = index
            while end + 1 < sorted.count && sorted[end + 1] == sorted[end] + 1 { end += 1 }
            parts.append(end == index ? "\(sorted[index])" : "\(sorted[index])-\(sorted[end])")
            index = end + 1
        }
        return parts.isEmpty ? "none" : parts.joined(separator: ",")
    }
}

/// `--pin`: where vCPU threads run.
public enum PinPolicy: Sendable, Equatable, CustomStringConvertible {
    /// No pinning: the scheduler places every thread (kvmbench makes no affinity call at all).
    case none
    /// One CPU per vCPU, spreading over cores first (SMT siblings last); the main thread and
    /// fault-handler threads get the cores no vCPU uses, when there are any.
    case auto
    /// One CPU per vCPU in order, optionally one more for the main thread (the selftests' `-c`).
    case cpus([Int])

    /// "none", "auto", or a CPU list; nil when it is none of them.
    public init?(parsing text: String) {
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "none", "": self = .none
        case "auto": self = .auto
        case let list:
            guard let cpus = CPUList.parse(list) else { return nil }
            self = .cpus(cpus)
        }
    }

    /// As recorded in results: "auto", or the list as given ("1,0"; order matters, so never compacted).
    public var description: String {
        switch self {
        case .none: "none"
        case .auto: "auto"
        case .cpus(let cpus): cpus.map(String.init).joined(separator: ",")
        }
    }
}

/// Which CPU each vCPU thread runs on, and where the main thread (and the fault-handler threads it
/// creates, which inherit its affinity) may run.
public struct PinPlan: Sendable, Equatable {
    /// The CPU of vCPU i.
    public var vcpuCPUs: [Int]
    /// The CPUs of the main thread; nil leaves it where it is.
    public var mainCPUs: [Int]?
    /// What the plan could not do (more vCPUs than CPUs, no room for the main thread).
    public var notes: [String]

    public init(vcpuCPUs: [Int], mainCPUs: [Int]?, notes: [String] = []) {
        self.vcpuCPUs = vcpuCPUs
        self.mainCPUs = mainCPUs
        self.notes = notes
    }

    /// "vCPU threads on CPUs 0,1; main thread on 1" for notes.
    public var summary: String {
        let vcpus = vcpuCPUs.enumerated().map { "vCPU \($0.offset) -> CPU \($0.element)" }.joined(separator: ", ")
        let main = mainCPUs.map { "main thread and fault handlers -> CPU(s) \(CPUList.format($0))" }
            ?? "main thread and fault handlers not pinned"
        return "\(vcpus); \(main)"
    }
}

/// CPU placement: the host's CPUs and the pinning policy. Threads are pinned with
/// pthread_setaffinity_np(3), i.e. sched_setaffinity(2) on the thread's tid: the scheduler then
/// runs the thread only on those CPUs, so a vCPU never migrates (no cold caches or TLBs after a
/// migration, no two vCPUs queued on one CPU while another idles).
public enum Placement {
    /// CPUs the kernel has online (/sys/devices/system/cpu/online).
    public static func onlineCPUs() -> [Int] {
        if let text = try? String(contentsOfFile: "/sys/devices/system/cpu/online", encoding: .utf8),
           let cpus = CPUList.parse(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            return cpus
        }
        return Array(0..<ProcessInfo.processInfo.activeProcessorCount)
    }

    /// CPUs this process may run on (sched_getaffinity: a cgroup cpuset or taskset narrows it).
    public static func allowedCPUs() -> [Int] {
        affinity() ?? onlineCPUs()
    }

    /// The host's cores as hwloc sees them (each core's logical CPUs; SMT siblings share a core).
    /// Probed once per process.
    public static var coreCPUs: [[Int]] { cachedCores }
    private static let cachedCores: [[Int]] = Topology.probe()?.coreCPUs ?? []

    /// The kernel thread id of the calling thread (/proc/thread-self is "<pid>/task/<tid>"; glibc's
    /// gettid is not visible to Swift), or 0 when it cannot be read.
    public static func currentThreadID() -> Int32 {
        var buffer = [CChar](repeating: 0, count: 64)
        let count = readlink("/proc/thread-self", &buffer, buffer.count - 1)
        guard count > 0 else { return 0 }
        let text = String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.split(separator: "/").last.flatMap { Int32($0) } ?? 0
    }

    /// Restricts thread `tid` (0: the calling thread) to `cpus` with sched_setaffinity(2), through
    /// libnuma (glibc's wrappers are not visible to Swift). Returns 0 or the errno value.
    @discardableResult
    public static func setAffinity(thread tid: Int32 = 0, to cpus: [Int]) -> Int32 {
        guard let mask = numa_allocate_cpumask() else { return ENOMEM }
        defer { numa_bitmask_free(mask) }
        let bits = Int(mask.pointee.size)
        for cpu in cpus {
            guard cpu >= 0 && cpu < bits else { return EINVAL }
            numa_bitmask_setbit(mask, UInt32(cpu))
        }
        return numa_sched_setaffinity(tid, mask) == 0 ? 0 : Glibc.errno
    }

    /// The CPU the calling thread runs on now (getcpu(2)), -1 when the kernel does not say.
    public static func currentCPU() -> Int { Int(chost_current_cpu()) }

    /// The CPUs thread `tid` (0: the calling thread) may run on, from sched_getaffinity(2), or nil
    /// when the call fails.
    public static func affinity(thread tid: Int32 = 0) -> [Int]? {
        guard let mask = numa_allocate_cpumask() else { return nil }
        defer { numa_bitmask_free(mask) }
        guard numa_sched_getaffinity(tid, mask) >= 0 else { return nil }
        return (0..<Int(mask.pointee.size)).filter { numa_bitmask_isbitset(mask, UInt32($0)) != 0 }
    }

    /// Checks `policy` for `vcpus` vCPUs against the host's CPUs, before any VM exists.
    public static func validate(_ policy: PinPolicy, vcpus: Int, online: [Int], allowed: [Int]) throws(PlacementError) {
        guard case .cpus(let cpus) = policy else { return }
        guard cpus.count == vcpus || cpus.count == vcpus + 1 else {
            throw PlacementError("--pin \(policy) names \(cpus.count) CPU(s) for --vcpus \(vcpus): give one CPU per vCPU (\(vcpus)), optionally one more for the main thread (\(vcpus + 1)); online CPUs: \(CPUList.format(online))")
        }
        let onlineSet = Set(online), allowedSet = Set(allowed)
        if let offline = cpus.first(where: { !onlineSet.contains($0) }) {
            throw PlacementError("--pin \(policy): CPU \(offline) is not online; online CPUs: \(CPUList.format(online))")
        }
        if let outside = cpus.first(where: { !allowedSet.contains($0) }) {
            throw PlacementError("--pin \(policy): CPU \(outside) is online but this process may not run on it (cgroup cpuset or taskset); allowed CPUs: \(CPUList.format(allowed))")
        }
    }

    /// The CPUs of each vCPU and of the main thread under `policy`; nil for `.none`.
    ///
    /// `auto` orders the allowed CPUs core by core, taking the first logical CPU of every core
    /// before any SMT sibling (siblings share a core's execution units and its TLBs, so two vCPUs
    /// on siblings would slow each other and confound a scaling curve), and gives vCPU i the i-th
    /// CPU of that order (wrapping when there are more vCPUs than CPUs). The main thread gets the
    /// CPUs of the cores no vCPU uses; failing that, the CPUs no vCPU uses; failing that, it is
    /// left unpinned, and the plan says so.
    public static func plan(_ policy: PinPolicy, vcpus: Int, coreCPUs: [[Int]], allowed: [Int]) -> PinPlan? {
        switch policy {
        case .none:
            return nil
        case .cpus(let cpus):
            return PinPlan(vcpuCPUs: Array(cpus.prefix(vcpus)), mainCPUs: cpus.count > vcpus ? [cpus[vcpus]] : nil)
        case .auto:
            let allowedSet = Set(allowed)
            var cores = coreCPUs.map { $0.filter(allowedSet.contains) }.filter { !$0.isEmpty }
            let covered = Set(cores.joined())
            // CPUs hwloc did not place in a core (or no topology at all): one core each.
            cores += allowed.filter { !covered.contains($0) }.sorted().map { [$0] }
            var order: [Int] = []
            let widest = cores.map(\.count).max() ?? 0
            for sibling in 0..<widest {
                for core in cores where sibling < core.count { order.append(core[sibling]) }
            }
            guard !order.isEmpty else { return nil }
            let vcpuCPUs = (0..<vcpus).map { order[$0 % order.count] }
            var notes: [String] = []
            if vcpus > order.count {
                notes.append("\(vcpus) vCPUs on \(order.count) allowed CPU(s): up to \((vcpus + order.count - 1) / order.count) vCPU threads share a CPU")
            }
            let used = Set(vcpuCPUs)
            let freeCores = cores.filter { $0.allSatisfy { !used.contains($0) } }.flatMap { $0 }
            let freeCPUs = order.filter { !used.contains($0) }
            var main: [Int]? = nil
            if !freeCores.isEmpty {
                main = freeCores.sorted()
            } else if !freeCPUs.isEmpty {
                main = freeCPUs.sorted()
                notes.append("no core is free of vCPUs: the main thread and fault handlers run on SMT sibling(s) \(CPUList.format(freeCPUs)) of vCPU cores")
            } else {
                notes.append("every allowed CPU runs a vCPU: the main thread and fault handlers are not pinned and share CPUs with vCPUs")
            }
            return PinPlan(vcpuCPUs: vcpuCPUs, mainCPUs: main, notes: notes)
        }
    }
}
