import Harness
import Backings
import GuestPrograms
import KVM
import Results
import Scenarios
import Testing
import TestSupport

private func value(_ sample: Sample, _ name: String) -> Double? { sample.metrics.first { $0.name == name }?.value }

@Suite("demand paging through userfaultfd", .enabled(if: KVMSystem.isUsable(), "needs /dev/kvm (readable and writable): skipped"))
struct DemandPagingUffdTests {
    @Test func missingModeWithOneHandlerPerVCPUCopiesEveryPageOnce() throws {
        let guest = GuestConfiguration(vcpus: 2, memoryPerVCPU: 4 << 20)
        let sample = try DemandPagingScenario(guest: guest, uffd: .init(mode: .missing)).measure(in: TestHost.context())
        #expect(value(sample, "uffd_copies") == 2048)
        #expect(value(sample, "pages_touched") == 2048)
        #expect(value(sample, "uffd_messages") == 2048)
        let p50 = try #require(value(sample, "uffd_handler_latency_p50"))
        let p99 = try #require(value(sample, "uffd_handler_latency_p99"))
        let max = try #require(value(sample, "uffd_handler_latency_max"))
        #expect(p50 > 0 && p50 <= p99 && p99 <= max)
        // One uffd per vCPU region: each handler served exactly its vCPU's pages.
        let perVCPU = try #require(sample.perVCPU)
        #expect(perVCPU.map { $0["uffd_resolved"] } == [1024, 1024])
        // KVM took its faults as usual.
        #expect((sample.kvmStats["pf_taken"] ?? 0) >= 2048)
        // The second pass runs after the uffds were closed: mappings in place, almost no faults.
        #expect((sample.phaseStats?["second_pass"]?["pf_taken"] ?? 0) < 64)
    }

    @Test func missingModeWithOneSharedHandlerAndTwoReaders() throws {
        let guest = GuestConfiguration(vcpus: 2, memoryPerVCPU: 4 << 20)
        let sample = try DemandPagingScenario(guest: guest, uffd: .init(mode: .missing, shared: true, readers: 2)).measure(in: TestHost.context())
        #expect(value(sample, "uffd_copies") == 2048)
        #expect(value(sample, "pages_touched") == 2048)
        #expect(sample.perVCPU?.first?["uffd_resolved"] == nil) // no per-vCPU handlers to report
    }

    @Test func randomAccessOnASharedRegionCopiesExactlyTheReplayedPages() throws {
        // Both vCPUs pick random pages of one region: some pages are touched twice, some never.
        let guest = GuestConfiguration(vcpus: 2, memoryPerVCPU: 2 << 20, sharedRegion: true, access: .random, writePercent: 50, seed: 7)
        let touched = WorkloadReplay.touchedUnits(configuration: guest, unit: 4096)
        #expect(touched > 256 && touched < 512) // 1024 random picks of 512 pages
        let sample = try DemandPagingScenario(guest: guest, uffd: .init(mode: .missing, shared: true, readers: 2)).measure(in: TestHost.context())
        #expect(value(sample, "uffd_copies") == Double(touched))
        let messages = try #require(value(sample, "uffd_messages"))
        #expect(messages == Double(touched) + (value(sample, "uffd_eexist") ?? 0))
    }

    @Test func minorModeOnShmemContinuesEveryPage() throws {
        let guest = GuestConfiguration(vcpus: 2, memoryPerVCPU: 2 << 20, backing: .shmem)
        let sample = try DemandPagingScenario(guest: guest, uffd: .init(mode: .minor)).measure(in: TestHost.context())
        #expect(value(sample, "uffd_continues") == 1024)
        #expect(value(sample, "uffd_copies") == nil)
        #expect(value(sample, "pages_touched") == 1024)
    }

    @Test func theHandlerDelayIsHonoured() throws {
        // 256 faults served one at a time, each after 200 us: the pass cannot be shorter than 51 ms.
        let guest = GuestConfiguration(vcpus: 1, memoryPerVCPU: 1 << 20)
        let sample = try DemandPagingScenario(guest: guest, uffd: .init(mode: .missing, delayNanos: 200_000)).measure(in: TestHost.context())
        #expect(value(sample, "uffd_copies") == 256)
        #expect(try #require(value(sample, "first_touch_time")) >= 256 * 200e-6)
    }

    @Test func hostPrefaultIsHonoured() throws {
        let pages = Double((2 << 20) / 4096)
        let cold = try DemandPagingScenario(guest: GuestConfiguration(vcpus: 1, memoryPerVCPU: 2 << 20)).measure(in: TestHost.context())
        #expect(value(cold, "host_pages_resident_before") == 0)
        let warm = try DemandPagingScenario(guest: GuestConfiguration(vcpus: 1, memoryPerVCPU: 2 << 20, hostPrefault: true)).measure(in: TestHost.context())
        #expect(value(warm, "host_pages_resident_before") == pages)
    }

    @Test func aWrongPageCountFailsTheCase() throws {
        // The check behind "copies == pages touched": a result the handlers cannot explain fails.
        let guest = GuestConfiguration(vcpus: 1, memoryPerVCPU: 1 << 20)
        let vm = try GuestVM(configuration: guest, context: TestHost.context())
        let service = try UffdService(options: .init(mode: .missing), memory: vm.testMemory, regions: 1)
        var workload = vm.defaultWorkload(0)
        workload.accesses = 10 // touches only 10 of the 256 pages
        vm.setWorkload(0, workload)
        try vm.runPasses(1)
        let report = try service.finish()
        #expect(report.resolved == 10)
        #expect(report.resolved != WorkloadReplay.touchedUnits(configuration: guest, unit: 4096))
    }
}

@Suite("userfaultfd parameters")
struct UffdParameterTests {
    let limits = HostLimits(maxVCPUs: 1024, memslots: 32764, memAvailable: nil)

    func problem(_ values: [String: String]) -> String? {
        do { _ = try DemandPagingScenario(parameters: ParameterSet(values), limits: limits); return nil }
        catch { return error.message }
    }

    @Test func badCombinationsAreParameterErrors() {
        #expect(problem(["uffd": "minor"])?.contains("--uffd minor needs a shared backing (shmem or shared-hugetlb)") == true)
        #expect(problem(["uffd": "minor", "backing": "hugetlb-2m", "mem_per_vcpu": "4M"])?.contains("private memory") == true)
        #expect(problem(["uffd": "missing", "backing": "hugetlb-1g", "mem_per_vcpu": "1G"])?.contains("--backing hugetlb-1g is not supported") == true)
        #expect(problem(["uffd": "missing", "host_prefault": "true"])?.contains("--host-prefault cannot be combined with --uffd missing") == true)
        #expect(problem(["uffd": "minor", "backing": "shmem", "host_prefault": "true"])?.contains("--host-prefault") == true)
        #expect(problem(["uffd": "sometimes"])?.contains("valid: none, missing, minor") == true)
        #expect(problem(["uffd_readers": "2"])?.contains("--uffd-readers needs --uffd missing or --uffd minor") == true)
        #expect(problem(["uffd": "missing", "uffd_readers": "0"])?.contains("1...64") == true)
        #expect(problem(["uffd": "missing", "uffd_delay": "soon"])?.contains("--uffd-delay soon") == true)
        #expect(problem(["uffd": "missing", "uffd_delay": "2s"])?.contains("0...1s") == true)
        #expect(problem(["uffd": "missing", "shared_region": "true", "uffd_shared": "false"])?.contains("--uffd-shared") == true)
        #expect(problem(["uffd": "missing", "backing": "shmem"]) == nil)
        #expect(problem(["uffd": "minor", "backing": "shared-hugetlb", "mem_per_vcpu": "4M"]) == nil)
    }

    @Test func aZeroInAVCPUSweepIsRefused() {
        // `--vcpus 1,0,4`: every case is validated before any VM exists; the 0 is refused.
        let problems = ["1", "0", "4"].map { problem(["vcpus": $0, "uffd": "missing"]) }
        #expect(problems[0] == nil && problems[2] == nil)
        #expect(problems[1]?.contains("--vcpus must be at least 1 (got 0)") == true)
    }

    @Test func parametersRecordTheHandlerSetUp() throws {
        let scenario = try DemandPagingScenario(parameters: ParameterSet(["uffd": "missing", "uffd_delay": "10us", "uffd_readers": "2", "vcpus": "2"]), limits: limits)
        #expect(scenario.parameters["uffd"] == "missing")
        #expect(scenario.parameters["uffd_delay"] == "10us")
        #expect(scenario.parameters["uffd_readers"] == "2")
        #expect(scenario.parameters["uffd_shared"] == "false")
        #expect(scenario.uffd.delayNanos == 10_000)
        let plain = try DemandPagingScenario(parameters: ParameterSet([:]), limits: limits)
        #expect(plain.parameters["uffd"] == "none")
        #expect(plain.parameters["uffd_readers"] == nil)
        // A shared region means one uffd, without asking.
        let shared = try DemandPagingScenario(parameters: ParameterSet(["uffd": "missing", "shared_region": "true"]), limits: limits)
        #expect(shared.uffd.shared)
    }

    @Test func durationsParse() {
        #expect(parseDuration("10us") == 10_000)
        #expect(parseDuration("500ns") == 500)
        #expect(parseDuration("2ms") == 2_000_000)
        #expect(parseDuration("7") == 7_000)
        #expect(parseDuration("-1us") == nil)
        #expect(formatDuration(10_000) == "10us")
        #expect(formatDuration(1_500) == "1500ns")
    }
}
