import Parameters
import Backings
import Foundation
import Glibc
import Host

extension GuestConfiguration {
    /// Reads `pin`, `numa_node` and `numa_interleave`, checked against the host's CPUs and nodes.
    mutating func readPlacement(_ p: ParameterSet, limits: HostLimits) throws(ParameterError) {
        let text = try p.value(GuestParameters.pin)
        guard let policy = PinPolicy(parsing: text) else {
            throw ParameterError("--pin \(text): not a placement; use none, auto, or CPU numbers like 0,1 or 0-3 (online CPUs: \(CPUList.format(limits.onlineCPUs)))")
        }
        pin = policy
        do {
            try Placement.validate(pin, vcpus: vcpus, online: limits.onlineCPUs, allowed: limits.allowedCPUs)
        } catch {
            throw ParameterError(error.message)
        }
        numa = nil
        let nodes = limits.numaNodes
        if let node = try p.given(GuestParameters.numaNode) {
            guard nodes.contains(node) else {
                throw ParameterError("--numa-node \(node): this host has no such node; nodes with memory this process may use: \(nodes.map(String.init).joined(separator: ", "))")
            }
            numa = .bind(node)
        }
        if try p.value(GuestParameters.numaInterleave) {
            if case .bind(let node) = numa {
                throw ParameterError("--numa-interleave cannot be combined with --numa-node \(node): give one memory policy (nodes: \(nodes.map(String.init).joined(separator: ", ")))")
            }
            numa = .interleave(nodes)
        }
    }

    /// The placement keys of `recorded`, present only when placement was asked for, so results
    /// of default runs keep their keys (and match their baselines) while two runs with different
    /// placement never share a case key.
    var recordedPlacement: [String: String] {
        var out: [String: String] = [:]
        if pin != .none { out["pin"] = pin.description }
        switch numa {
        case .bind(let node)?: out["numa_node"] = "\(node)"
        case .interleave?: out["numa_interleave"] = "true"
        case nil: break
        }
        return out
    }

    /// Things to say before the case runs: placement that cannot change anything on this host.
    public var placementNotices: [String] {
        switch numa {
        case .bind(let node)?: PlacementNotice.singleNode(flag: "--numa-node \(node)").map { [$0] } ?? []
        case .interleave?: PlacementNotice.singleNode(flag: "--numa-interleave").map { [$0] } ?? []
        case nil: []
        }
    }
}

package enum PlacementNotice {
    /// On a host with one NUMA node a memory policy is applied but cannot move anything: say so
    /// rather than pretend.
    package static func singleNode(flag: String) -> String? {
        let nodes = NUMAHost.nodes()
        guard nodes.count == 1 else { return nil }
        return "this host has one NUMA node (\(nodes[0])): \(flag) is applied (mbind) but changes nothing, every page comes from node \(nodes[0]) anyway"
    }
}

/// What a guest's placement turned out to be, measured after the fact: each vCPU thread's CPU
/// affinity as read back from the kernel, and the nodes a sample of the test memory's pages
/// landed on.
public struct PlacementReport: Sendable, Equatable {
    public var notes: [String]
    /// "numa_node0" -> sampled pages on node 0, "numa_not_present", "numa_sampled".
    public var numaPages: [String: Int64]?
}

/// Applies a configuration's placement while a `GuestVM` is built, and undoes it when the VM goes.
///
/// The main thread is pinned first (so the guest image it writes, and the fault-handler threads
/// it creates later, which inherit its affinity, are placed too), then the test memory's memory
/// policy is set before anything touches it; each vCPU thread pins itself when it starts, before
/// it first parks, so no timed region contains an affinity change.
final class GuestPlacement {
    let configuration: GuestConfiguration
    let plan: PinPlan?
    /// The pinned thread and its affinity before, restored at deinit.
    private var restore: (thread: Int32, cpus: [Int])?

    init(configuration: GuestConfiguration) throws {
        self.configuration = configuration
        // `--pin none` makes no affinity call and reads no topology.
        plan = configuration.pin == .none ? nil
            : Placement.plan(configuration.pin, vcpus: configuration.vcpus, coreCPUs: Placement.coreCPUs,
                             allowed: Placement.allowedCPUs())
        if let main = plan?.mainCPUs {
            let thread = Placement.currentThreadID()
            let before = Placement.affinity(thread: thread)
            let status = Placement.setAffinity(thread: thread, to: main)
            guard status == 0 else {
                throw PlacementFailed("pinning the main thread to CPU(s) \(CPUList.format(main)) failed: \(String(cString: strerror(status)))")
            }
            if let before { restore = (thread, before) }
        }
    }

    deinit {
        if let restore { Placement.setAffinity(thread: restore.thread, to: restore.cpus) }
    }

    /// Sets the test memory's NUMA policy; must run before the memory is first touched.
    func bind(_ memory: borrowing HostMemory) throws {
        guard let policy = configuration.numa else { return }
        do { try memory.bind(policy) } catch { throw ScenarioUnsupported("NUMA placement: \(error.reason)") }
    }

    /// Reads back what the kernel actually did.
    func report(vcpuAffinities: [[Int]?], memory: borrowing HostMemory) -> PlacementReport {
        var report = PlacementReport(notes: [], numaPages: nil)
        if let plan {
            let got = vcpuAffinities.enumerated().map { "vCPU \($0.offset): \($0.element.map(CPUList.format) ?? "unknown")" }
            let main = restore.flatMap { Placement.affinity(thread: $0.thread) }.map(CPUList.format) ?? "not pinned"
            report.notes.append("placement --pin \(configuration.pin): \(plan.summary); read back with sched_getaffinity: \(got.joined(separator: ", ")); main thread: \(main)")
            report.notes += plan.notes
        }
        if let policy = configuration.numa {
            let census = memory.pageNodes()
            var pages: [String: Int64] = ["numa_sampled": Int64(census.sampled), "numa_not_present": Int64(census.notPresent)]
            for (node, count) in census.pagesPerNode { pages["numa_node\(node)"] = Int64(count) }
            report.numaPages = pages
            let held = memory.memoryPolicy().map { "\($0.mode) \(CPUList.format($0.nodes))" } ?? "unreadable"
            report.notes.append("placement: test memory \(policy) (mbind before first touch; get_mempolicy reads back \(held)); after the run, \(census.sampled) sampled page(s) (move_pages): \(census.summary)")
            report.notes += configuration.placementNotices
        }
        return report
    }
}

/// A thread's placement could not be applied (a CPU went offline after validation, or a cgroup
/// forbids it): the case fails with this.
public struct PlacementFailed: Error, CustomStringConvertible, Sendable {
    public var detail: String
    public init(_ detail: String) { self.detail = detail }
    public var description: String { detail }
}

