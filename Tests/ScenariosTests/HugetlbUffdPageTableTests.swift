import Harness
import Backings
import Foundation
import GuestPrograms
import KVM
import Results
import Pipeline
import Scenarios
import Testing
import TestSupport

private func value(_ sample: Sample, _ name: String) -> Double? { sample.metrics.first { $0.name == name }?.value }

/// The 2M pool size once it settles: tests of other suites may hold a short reservation of their
/// own while this one ends, so wait up to 3 s for the pool to return to `expected`.
private func settledPool(expected: Int?) -> Int? {
    for _ in 0..<30 {
        let now = HugepagePool.total(.size2m)
        if now == expected { return now }
        usleep(100_000)
    }
    return HugepagePool.total(.size2m)
}

/// The one way these tests may be unsupported: the 2 MiB pool cannot be grown here (no pool, not
/// root, or the kernel found too little contiguous memory). That is a skip with the reason; any
/// other unsupported reason is left to fail the test's `status == .ok` check.
func skipWhereThePoolCannotGrow(_ result: CaseResult) throws {
    guard result.status == .unsupported, let reason = result.reason else { return }
    let poolReasons = ["hugetlb pool (", "hugepages (needs root)", "hugepages, got"]
    if poolReasons.contains(where: reason.contains) {
        try Test.cancel("the 2M hugepage pool cannot be grown here (\(reason)): skipped")
    }
}

/// The userfaultfd and page-table tests that reserve 2 MiB hugepages. The pool is process-wide
/// state (and `CaseRunner` restores every pool kvmbench grew when a case ends), so these run one at
/// a time, and each checks that the pool is back to its size before the test.
@Suite("userfaultfd and page-table on hugetlb", .serialized,
       .enabled(if: KVMSystem.isUsable(), "needs /dev/kvm (readable and writable): skipped"))
struct HugetlbUffdPageTableTests {
    @Test func minorModeOnSharedHugetlbResolvesWholeHugePagesAndRestoresThePool() throws {
        let poolBefore = HugepagePool.total(.size2m)
        let guest = GuestConfiguration(vcpus: 2, memoryPerVCPU: 4 << 20, backing: .sharedHugetlb, reserveHugepages: true)
        var samples: [Sample] = []
        let result = CaseRunner.run(scenario: "demand-paging", parameters: [:], settings: RunSettings(warmups: 0, repetitions: 1), host: TestHost.session) { context in
            let sample = try DemandPagingScenario(guest: guest, uffd: .init(mode: .minor)).measure(in: context)
            samples.append(sample)
            return sample
        }
        #expect(settledPool(expected: poolBefore) == poolBefore, "the 2M pool was not restored")
        try skipWhereThePoolCannotGrow(result)
        #expect(result.status == .ok, "\(result.reason ?? "")")
        let sample = try #require(samples.first)
        #expect(value(sample, "uffd_continues") == 4) // 8 MiB in 2 MiB pages
        #expect(sample.extraParameters["uffd_unit"] == "2M")
    }

    @Test func missingModeOnHugetlbCopiesTwoMegabytePages() throws {
        let poolBefore = HugepagePool.total(.size2m)
        let guest = GuestConfiguration(vcpus: 1, memoryPerVCPU: 4 << 20, backing: .hugetlb2m, reserveHugepages: true)
        var copies: Double?
        let result = CaseRunner.run(scenario: "demand-paging", parameters: [:], settings: RunSettings(warmups: 0, repetitions: 1), host: TestHost.session) { context in
            let sample = try DemandPagingScenario(guest: guest, uffd: .init(mode: .missing)).measure(in: context)
            copies = value(sample, "uffd_copies")
            return sample
        }
        #expect(settledPool(expected: poolBefore) == poolBefore, "the 2M pool was not restored")
        try skipWhereThePoolCannotGrow(result)
        #expect(result.status == .ok, "\(result.reason ?? "")")
        #expect(copies == 2)
    }

    @Test func dirtyLoggingSplitsHugeMappingsAndDisablingItRebuildsThem() throws {
        // 2 vCPUs x 8 MiB of private hugetlb, mapped by 2 MiB guest pages: 8 huge pages, reserved
        // for the test and given back afterwards.
        let poolBefore = HugepagePool.total(.size2m)
        let guest = GuestConfiguration(vcpus: 2, memoryPerVCPU: 8 << 20, backing: .hugetlb2m, guestPageSize: .size2m,
                                       reserveHugepages: true)
        let scenario = PageTableScenario(guest: guest)
        var samples: [Sample] = []
        let result = CaseRunner.run(scenario: PageTableScenario.name, parameters: scenario.parameters,
                                    settings: RunSettings(warmups: 0, repetitions: 1), host: TestHost.session) { context in
            let sample = try scenario.measure(in: context)
            samples.append(sample)
            return sample
        }
        #expect(settledPool(expected: poolBefore) == poolBefore, "the 2M pool was not restored")
        try skipWhereThePoolCannotGrow(result)
        #expect(result.status == .ok, "\(result.reason ?? "")")
        let sample = try #require(samples.first)
        let stats = try #require(sample.phaseStats)
        func huge(_ step: String) -> Int64 { stats["after." + step]?["pages_2m"] ?? -1 }
        func small(_ step: String) -> Int64 { stats["after." + step]?["pages_4k"] ?? -1 }
        // Shadow paging (this project's host) maps exactly the guest's 2 MiB pages huge; a TDP host
        // may map more of the VM huge, never fewer of the test memory.
        #expect(huge("start") == 0)
        #expect(huge("create") >= 8)
        // Every vCPU wrote the first page of each large page and read its second half while dirty
        // logging was on (kvm_page_table_test's update phase): no huge mapping of the test memory
        // is left, and each 4 KiB page touched got its own mapping: 8 x (1 + 256).
        #expect(huge("update") < huge("create"))
        #expect(huge("create") - huge("update") >= 8)
        #expect(small("update") - small("create") >= 8 * 257)
        // Dirty logging off, then reads: the huge mappings are back.
        #expect(huge("rebuild") >= huge("create"))
        // Per-phase KVM stats deltas. Shadow paging faults on every page touched while logging;
        // the TDP MMU splits the huge mappings eagerly when logging starts (eager_page_split), so
        // only the 8 writes fault (write-protection, fast path).
        let updateFaults = stats["update"]?["pf_taken"] ?? 0
        #expect(updateFaults >= (HostPaging.current.usesShadowMMU ? 8 * 257 : 8), "update pf_taken \(updateFaults)")
        for name in ["create_mappings_time", "update_mappings_time", "rebuild_blocks_time",
                     "enable_dirty_log_time", "disable_dirty_log_time"] {
            let metric = try #require(sample.metrics.first { $0.name == name })
            #expect(metric.value > 0 && metric.unit == .seconds)
        }
        #expect(sample.notes.contains { $0.hasPrefix("split: pages_2m fell from") })
        #expect(!sample.notes.contains { $0.hasPrefix("unexpected") })
        // The selftest's access types: even vCPUs write while creating mappings, odd ones read.
        #expect(sample.perVCPU?.map { $0["create_write_percent"] } == [100, 0])
    }

}
