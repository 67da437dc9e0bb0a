import Harness
import Backings
import Foundation
import KVM
import Results
import Pipeline
import Scenarios
import Testing
import TestSupport

private let limits = HostLimits(maxVCPUs: 1024, memslots: 32764, memAvailable: nil)

/// The scenario-level guest keys with placement, validated against `host`.
private func guest(_ values: [String: String], host: HostLimits = limits) throws(ParameterError) -> GuestConfiguration {
    let table = ParameterTable(GuestParameters.all + [GuestParameters.memoryPerVCPU.defaulting(to: 4 << 20)])
    return try GuestConfiguration(parameters: ParameterSet(values, table: table), limits: host)
}

@Suite("placement: CPU lists, the auto policy and validation")
struct PlacementPolicyTests {
    @Test func cpuListsParseLikeTheKernelWritesThem() {
        #expect(CPUList.parse("0,1") == [0, 1])
        #expect(CPUList.parse("0-3") == [0, 1, 2, 3])
        #expect(CPUList.parse("1,0") == [1, 0]) // order kept: vCPU 0 on CPU 1
        #expect(CPUList.parse("0-1,4") == [0, 1, 4])
        #expect(CPUList.parse("3-1") == nil)
        #expect(CPUList.parse("a") == nil)
        #expect(CPUList.parse("1,,2") == nil)
        #expect(CPUList.format([5, 0, 1, 2]) == "0-2,5")
        #expect(PinPolicy(parsing: "auto") == .auto)
        #expect(PinPolicy(parsing: "none") == PinPolicy.none)
        #expect(PinPolicy(parsing: "1,0") == .cpus([1, 0]))
        #expect(PinPolicy(parsing: "auto,0") == nil)
    }

    /// 4 cores with 2 SMT siblings each, numbered as Linux does on Intel: core i has CPUs i and i+4.
    static let smtCores = [[0, 4], [1, 5], [2, 6], [3, 7]]

    @Test func autoSpreadsOverCoresBeforeSiblingsAndKeepsTheMainThreadOffVCPUCores() throws {
        let two = try #require(Placement.plan(.auto, vcpus: 2, coreCPUs: Self.smtCores, allowed: Array(0...7)))
        #expect(two.vcpuCPUs == [0, 1])
        #expect(two.mainCPUs == [2, 3, 6, 7]) // the two cores no vCPU uses, both siblings of each
        #expect(two.notes.isEmpty)

        let five = try #require(Placement.plan(.auto, vcpus: 5, coreCPUs: Self.smtCores, allowed: Array(0...7)))
        #expect(five.vcpuCPUs == [0, 1, 2, 3, 4]) // siblings only once every core has a vCPU
        #expect(five.mainCPUs == [5, 6, 7])
        #expect(five.notes.contains { $0.contains("SMT sibling") })

        let nine = try #require(Placement.plan(.auto, vcpus: 9, coreCPUs: Self.smtCores, allowed: Array(0...7)))
        #expect(nine.vcpuCPUs == [0, 1, 2, 3, 4, 5, 6, 7, 0])
        #expect(nine.mainCPUs == nil)
        #expect(nine.notes.contains { $0.contains("9 vCPUs on 8 allowed CPU(s)") })
        #expect(nine.notes.contains { $0.contains("not pinned") })
    }

    @Test func autoUsesOnlyAllowedCPUsAndCopesWithoutATopology() throws {
        let narrowed = try #require(Placement.plan(.auto, vcpus: 2, coreCPUs: Self.smtCores, allowed: [1, 2, 5]))
        #expect(narrowed.vcpuCPUs == [1, 2])
        #expect(narrowed.mainCPUs == [5]) // no free core: the sibling of vCPU 0's core
        let flat = try #require(Placement.plan(.auto, vcpus: 1, coreCPUs: [], allowed: [0, 1]))
        #expect(flat.vcpuCPUs == [0])
        #expect(flat.mainCPUs == [1])
        #expect(Placement.plan(.none, vcpus: 2, coreCPUs: Self.smtCores, allowed: [0, 1]) == nil)
    }

    @Test func anExplicitListIsOnePerVCPUPlusOptionallyTheMainThread() throws {
        let plain = try #require(Placement.plan(.cpus([1, 0]), vcpus: 2, coreCPUs: [], allowed: [0, 1]))
        #expect(plain.vcpuCPUs == [1, 0])
        #expect(plain.mainCPUs == nil)
        let withMain = try #require(Placement.plan(.cpus([1, 0]), vcpus: 1, coreCPUs: [], allowed: [0, 1]))
        #expect(withMain.vcpuCPUs == [1])
        #expect(withMain.mainCPUs == [0])
    }

    @Test func badListsAreParameterErrorsNamingTheOnlineCPUs() {
        var host = limits
        host.onlineCPUs = [0, 1]
        host.allowedCPUs = [0, 1]
        let wrongLength = #expect(throws: ParameterError.self) { try guest(["vcpus": "2", "pin": "0,1,0,1"], host: host) }
        #expect(wrongLength?.message == "--pin 0,1,0,1 names 4 CPU(s) for --vcpus 2: give one CPU per vCPU (2), optionally one more for the main thread (3); online CPUs: 0-1")
        let offline = #expect(throws: ParameterError.self) { try guest(["vcpus": "2", "pin": "0,7"], host: host) }
        #expect(offline?.message == "--pin 0,7: CPU 7 is not online; online CPUs: 0-1")
        host.allowedCPUs = [0]
        let forbidden = #expect(throws: ParameterError.self) { try guest(["vcpus": "1", "pin": "1"], host: host) }
        #expect(forbidden?.message.contains("allowed CPUs: 0") == true)
        let garbage = #expect(throws: ParameterError.self) { try guest(["pin": "first"], host: host) }
        #expect(garbage?.message.contains("use none, auto, or CPU numbers") == true)
    }

    @Test func aNodeThatDoesNotExistIsRefusedWithTheNodeList() {
        var host = limits
        host.numaNodes = [0, 1]
        let missing = #expect(throws: ParameterError.self) { try guest(["numa_node": "7"], host: host) }
        #expect(missing?.message == "--numa-node 7: this host has no such node; nodes with memory this process may use: 0, 1")
        let both = #expect(throws: ParameterError.self) { try guest(["numa_node": "0", "numa_interleave": "true"], host: host) }
        #expect(both?.message.contains("cannot be combined") == true)
    }

    @Test func placementIsRecordedOnlyWhenSet() throws {
        let plain = try guest([:])
        #expect(plain.recorded["pin"] == nil)
        #expect(plain.recorded["numa_node"] == nil)
        #expect(plain.recorded["numa_interleave"] == nil)
        let placed = try guest(["pin": "auto", "numa_node": "0"])
        #expect(placed.recorded["pin"] == "auto")
        #expect(placed.recorded["numa_node"] == "0")
        let none = try guest(["pin": "none"])
        #expect(none.recorded == plain.recorded) // --pin none is the default: same case key as before
        let interleaved = try guest(["numa_interleave": "true"])
        #expect(interleaved.recorded["numa_interleave"] == "true")
    }
}

/// What the kernel says about a thread of this process: the CPUs it may run on and the CPU it
/// last ran on (/proc/self/task/<tid>/status and stat, field 39).
private func kernelView(of tid: Int32) throws -> (allowed: [Int], lastCPU: Int) {
    let status = try String(contentsOfFile: "/proc/self/task/\(tid)/status", encoding: .utf8)
    let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") })
    let allowed = try #require(CPUList.parse(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)))
    let stat = try String(contentsOfFile: "/proc/self/task/\(tid)/stat", encoding: .utf8)
    let fields = stat[stat.index(after: try #require(stat.lastIndex(of: ")")))...].split(separator: " ")
    let lastCPU = try #require(Int(fields[36])) // field 39 of stat; fields[0] is field 3
    return (allowed, lastCPU)
}

@Suite("placement on a real guest", .serialized, .enabled(if: KVMSystem.isUsable(), "needs /dev/kvm (readable and writable): skipped"))
struct PlacementGuestTests {
    @Test(.enabled(if: Placement.allowedCPUs().count >= 2, "needs two CPUs"))
    func pinAutoPinsEveryVCPUThreadToItsOwnCPU() throws {
        let configuration = try guest(["vcpus": "2", "mem_per_vcpu": "4M", "pin": "auto"])
        let vm = try GuestVM(configuration: configuration, context: TestHost.context())
        let plan = try #require(vm.pinPlan)
        #expect(Set(plan.vcpuCPUs).count == 2)
        try vm.runPasses(1)
        let affinities = vm.vcpuAffinities()
        for (index, tid) in vm.vcpuThreadIDs().enumerated() {
            #expect(affinities[index] == [plan.vcpuCPUs[index]])
            let kernel = try kernelView(of: tid)
            #expect(kernel.allowed == [plan.vcpuCPUs[index]])
            #expect(kernel.lastCPU == plan.vcpuCPUs[index], "vCPU \(index) ran on CPU \(kernel.lastCPU)")
        }
    }

    @Test(.enabled(if: Placement.allowedCPUs().contains(0) && Placement.allowedCPUs().contains(1), "needs CPUs 0 and 1"))
    func anExplicitListIsAppliedInOrderAndTheMainThreadIsRestoredAfterwards() throws {
        let before = try #require(Placement.affinity())
        do {
            let configuration = try guest(["vcpus": "2", "mem_per_vcpu": "4M", "pin": "1,0"])
            let vm = try GuestVM(configuration: configuration, context: TestHost.context())
            try vm.runPasses(1)
            #expect(vm.vcpuAffinities() == [[1], [0]])
            let tids = vm.vcpuThreadIDs()
            #expect(try kernelView(of: tids[0]).allowed == [1])
            #expect(try kernelView(of: tids[1]).allowed == [0])
            #expect(Placement.affinity() == before) // two CPUs given for two vCPUs: the main thread is not pinned
        }
        do {
            // One vCPU, plus a CPU for the main thread.
            let configuration = try guest(["vcpus": "1", "mem_per_vcpu": "4M", "pin": "1,0"])
            let vm = try GuestVM(configuration: configuration, context: TestHost.context())
            try vm.runPasses(1)
            #expect(vm.vcpuAffinities() == [[1]])
            #expect(Placement.affinity() == [0])
            #expect(try kernelView(of: Placement.currentThreadID()).allowed == [0])
        }
        #expect(Placement.affinity() == before) // the VM went away: the main thread may run anywhere again
    }

    @Test func withoutPinTheThreadsKeepTheProcessAffinity() throws {
        let allowed = Placement.allowedCPUs()
        let vm = try GuestVM(configuration: GuestConfiguration(vcpus: 2, memoryPerVCPU: 4 << 20), context: TestHost.context())
        #expect(vm.pinPlan == nil)
        #expect(vm.vcpuAffinities() == [allowed, allowed])
    }

    @Test func numaNodeBindsTheTestMemoryBeforeFirstTouchAndReportsWhereItLanded() throws {
        let node = try #require(NUMAHost.nodes().first)
        let configuration = try guest(["vcpus": "2", "mem_per_vcpu": "8M", "numa_node": "\(node)"])
        let vm = try GuestVM(configuration: configuration, context: TestHost.context())
        let held = vm.testMemory.memoryPolicy()
        #expect(held?.mode == "bind")
        #expect(held?.nodes == [node])
        // The kernel's own view of the mapping.
        let maps = try String(contentsOfFile: "/proc/self/numa_maps", encoding: .utf8)
        let start = String(vm.testMemory.address, radix: 16)
        let line = try #require(maps.split(separator: "\n").first { $0.hasPrefix(start + " ") })
        #expect(line.contains("bind:\(node)"), "\(line)")

        #expect(vm.placementReport().numaPages?["numa_not_present"] == 4096) // nothing touched yet
        try vm.runPasses(1)
        let report = vm.placementReport()
        let pages = try #require(report.numaPages)
        #expect(pages["numa_sampled"] == 4096)
        #expect(pages["numa_node\(node)"] == 4096)
        #expect(pages["numa_not_present"] == 0)
        #expect(report.notes.contains { $0.contains("node \(node): 4096") })
        if NUMAHost.nodes().count == 1 {
            #expect(report.notes.contains { $0.contains("changes nothing") })
        }
    }

    @Test func aCaseRecordsItsPlacementInNotesAndPhaseStats() throws {
        let node = try #require(NUMAHost.nodes().first)
        let scenario = try DemandPagingScenario(parameters: ParameterSet(["vcpus": "2", "mem_per_vcpu": "4M", "pin": "auto", "numa_node": "\(node)"]),
                                                limits: limits)
        #expect(scenario.parameters["pin"] == "auto")
        #expect(scenario.parameters["numa_node"] == "\(node)")
        let result = CaseRunner.run(scenario: DemandPagingScenario.name, parameters: scenario.parameters,
                                    settings: RunSettings(warmups: 0, repetitions: 1), host: TestHost.session) { context in try scenario.measure(in: context) }
        #expect(result.status == .ok, "\(result.reason ?? "")")
        #expect(result.notes.contains { $0.hasPrefix("placement --pin auto: vCPU 0 -> CPU") })
        #expect(result.notes.contains { $0.contains("bound to node \(node)") })
        #expect(result.phaseStats?["numa_pages"]?["numa_node\(node)"] == 2048) // every page of 2 x 4 MiB
    }
}
