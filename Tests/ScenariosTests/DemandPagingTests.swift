import GuestPrograms
import KVM
import Results
import Pipeline
@testable import Harness
@testable import Scenarios
import Testing
import TestSupport
import Foundation

@Suite("demand paging on a real guest", .enabled(if: KVMSystem.isUsable(), "needs /dev/kvm (readable and writable): skipped"))
struct DemandPagingTests {
    let limits = HostLimits(maxVCPUs: 1024, memslots: 32764, memAvailable: nil)

    @Test func firstTouchTakesOneShadowFaultPerPageAndTheSecondPassNone() throws {
        let guest = GuestConfiguration(vcpus: 2, memoryPerVCPU: 4 << 20)
        let sample = try DemandPagingScenario(guest: guest).measure(in: TestHost.context())
        let pages = Int64(guest.pagesPerVCPU) * 2
        #expect((sample.kvmStats["pf_taken"] ?? 0) >= pages)
        #expect((sample.kvmStats["pages_4k"] ?? 0) >= pages)
        // The workload ran at CPL3: the instruction emulator was (almost) idle.
        #expect((sample.kvmStats["insn_emulation"] ?? 0) < pages / 100)
        let second = try #require(sample.phaseStats?["second_pass"])
        #expect((second["pf_taken"] ?? 0) < pages / 100)
        #expect(sample.perVCPU?.count == 2)
        for name in ["first_touch_time", "demand_paging_rate", "second_pass_time", "vcpu_time_max"] {
            let metric = try #require(sample.metrics.first { $0.name == name })
            #expect(metric.value > 0)
        }
    }

    /// Guest PTEs with the Accessed bit let shadow paging prefetch the neighbours of a faulting
    /// page when their host pages exist: at most a quarter of a fault per page. With the bits
    /// clear KVM takes one fault per page and writes the bits back.
    @Test func presetAccessedBitsLetKVMPrefetchPrefaultedPages() throws {
        func faultsPerPage(_ bits: GuestADBits) throws -> Double {
            var guest = GuestConfiguration(vcpus: 1, memoryPerVCPU: 16 << 20, hostPrefault: true)
            guest.guestADBits = bits
            #expect(guest.recorded["guest_ad_bits"] == bits.rawValue)
            let sample = try DemandPagingScenario(guest: guest).measure(in: TestHost.context())
            return try #require(sample.metrics.first { $0.name == "faults_per_page" }).value
        }
        let preset = try faultsPerPage(.preset), clear = try faultsPerPage(.clear)
        #expect(clear >= 0.9)
        if HostPaging.current.isShadow {
            #expect(preset <= 0.25, "faults per page with A/D preset: \(preset)")
        }
        let limits = HostLimits(maxVCPUs: 1024, memslots: 32764, memAvailable: nil)
        #expect(try DemandPagingScenario(parameters: ParameterSet([:]), limits: limits).parameters["guest_ad_bits"] == "preset")
        #expect(throws: ParameterError.self) { try DemandPagingScenario(parameters: ParameterSet(["guest_ad_bits": "set"]), limits: limits) }
    }

    /// KVM says what each stat is: a peak (max_mmu_rmap_size) is the highest value reached, not a
    /// delta and not a sum over vCPUs; an instant value (pages_4k) has a before and an after.
    @Test func statsAreReadByTheirType() throws {
        let guest = GuestConfiguration(vcpus: 2, memoryPerVCPU: 4 << 20)
        let sample = try DemandPagingScenario(guest: guest).measure(in: TestHost.context())
        let types = try #require(sample.kvmStatTypes)
        #expect(types["pf_taken"] == "cumulative")
        #expect(types["pages_4k"] == "instant")
        if let peak = sample.kvmStats["max_mmu_rmap_size"] {
            #expect(types["max_mmu_rmap_size"] == "peak" && peak >= 0)
        }
        let pages = try #require(sample.kvmStatsInstant?["pages_4k"])
        #expect(pages.after - pages.before == sample.kvmStats["pages_4k"])
        #expect(pages.after >= 2048)
        for (name, type) in types where type.hasSuffix("-hist") {
            #expect(sample.kvmStatsHistograms?[name] != nil, "\(name) is a histogram")
        }

        var report = KVMStatsReport()
        report.add("max_mmu_rmap_size", .peak(5))
        report.add("max_mmu_rmap_size", .peak(3))
        report.add("pf_taken", .cumulative(4))
        report.add("pf_taken", .cumulative(6))
        report.add("halt_wait_hist", .histogram(kind: .logHistogram, buckets: [1, 2]))
        report.add("halt_wait_hist", .histogram(kind: .logHistogram, buckets: [3, 0]))
        #expect(report.values == ["max_mmu_rmap_size": 5, "pf_taken": 10, "halt_wait_hist": 6])
        #expect(report.histograms["halt_wait_hist"] == [4, 2])
        #expect(report.types["halt_wait_hist"] == "log-hist")
    }

    @Test func sharedRegionAndRandomAccessStillTouchEveryPageOnce() throws {
        let guest = GuestConfiguration(vcpus: 2, memoryPerVCPU: 4 << 20, sharedRegion: true, access: .random, writePercent: 50)
        let sample = try DemandPagingScenario(guest: guest).measure(in: TestHost.context())
        // One shared region: at most one fault's worth of mappings per page, however many vCPUs.
        #expect((sample.kvmStats["pages_4k"] ?? 0) <= Int64(guest.pagesPerVCPU) + 16)
        #expect((sample.kvmStats["pf_taken"] ?? 0) > 0)
    }

    @Test func aGuestThatFaultsIsAFailureWithItsRegisters() throws {
        let vm = try GuestVM(configuration: GuestConfiguration(vcpus: 1, memoryPerVCPU: 2 << 20), context: TestHost.context())
        var workload = vm.defaultWorkload(0)
        workload.base = 1 << 46 // not mapped by the guest page tables: #PF, no IDT, triple fault
        vm.setWorkload(0, workload)
        let error = #expect(throws: GuestFailure.self) { try vm.runPasses(1) }
        #expect(error?.exit == .shutdown)
        #expect(error?.description.contains("KVM_EXIT_SHUTDOWN") == true)
        if HostPaging.current.module == "kvm_amd" {
            // kvm_amd INITs a vCPU that shut down: the registers are the reset state, and the failure says so.
            #expect(error?.registers.contains("rip=0xfff0") == true)
            #expect(error?.description.contains("registers below are its reset state") == true)
        } else {
            #expect(error?.registers.contains("rip=0x5") == true) // faulted inside the workload code
        }
    }

    @Test func unsupportedBackingBecomesAnUnsupportedCaseWithItsReason() {
        let guest = GuestConfiguration(vcpus: 1, memoryPerVCPU: 1 << 30, backing: .hugetlb1g)
        let result = CaseRunner.run(scenario: "demand-paging", parameters: guest.recorded, settings: RunSettings(warmups: 0, repetitions: 1), host: TestHost.session) { context in
            try DemandPagingScenario(guest: guest).measure(in: context)
        }
        if result.status == .unsupported {
            #expect(result.reason?.contains("hugetlb-1g") == true)
        } else {
            #expect(result.status == .ok) // a host with a 1G pool runs it
        }
    }

    @Test func badInputIsRefusedBeforeAnyVMWithTheLimit() {
        func problem(_ values: [String: String]) -> String? {
            do { _ = try DemandPagingScenario(parameters: ParameterSet(values), limits: limits); return nil }
            catch { return error.message }
        }
        #expect(problem(["vcpus": "0"])?.contains("at least 1") == true)
        #expect(problem(["vcpus": "5000"])?.contains("limit of 1024") == true)
        #expect(problem(["mem_per_vcpu": "0"])?.contains("larger than 0") == true)
        #expect(problem(["backing": "tmpfs"])?.contains("anonymous-4k, thp, hugetlb-2m, hugetlb-1g, shmem, shared-hugetlb") == true)
        #expect(problem(["backing": "hugetlb-1g", "mem_per_vcpu": "512M"])?.contains("multiple of the hugetlb-1g page size (1 GiB)") == true)
        #expect(problem(["guest_page_size": "2m", "mem_per_vcpu": "3M"])?.contains("multiple of 2 MiB") == true)
        #expect(problem(["write_percent": "101"])?.contains("0...100") == true)
        let tight = HostLimits(maxVCPUs: 8, memslots: 32, memAvailable: 1 << 30)
        do {
            _ = try DemandPagingScenario(parameters: ParameterSet(["vcpus": "4", "mem_per_vcpu": "1G"]), limits: tight)
            Issue.record("4 GiB of guest on a host with 1 GiB available was accepted")
        } catch {
            #expect(error.message.contains("MemAvailable"))
        }
    }

    @Test func sizesParseTheWayTheCommandLineWritesThem() {
        #expect(parseSize("256M") == 256 << 20)
        #expect(parseSize("1G") == 1 << 30)
        #expect(parseSize("4096") == 4096)
        #expect(parseSize("64MiB") == 64 << 20)
        #expect(parseSize("lots") == nil)
        // 2^64 bytes and more do not fit: nil, not a trap.
        #expect(parseSize("99999999999999999999") == nil)
        #expect(parseSize("16777216T") == nil)
        #expect(parseSize("16777215T") == 16_777_215 << 40)
        #expect(parseDuration("1e300s") == nil)
        #expect(parseDuration("18446744073.8s") == nil)
        #expect(formatSize(256 << 20) == "256M")
    }
}
