import Harness
import Backings
import GuestPrograms
import KVM
import Results
import Scenarios
import Testing
import TestSupport

@Suite("page-table phases on a real guest", .enabled(if: KVMSystem.isUsable(), "needs /dev/kvm (readable and writable): skipped"))
struct PageTableTests {
    @Test func aFourKilobyteBackingSaysHugeMappingsAreImpossible() throws {
        let guest = GuestConfiguration(vcpus: 1, memoryPerVCPU: 4 << 20, backing: .anonymous4k, guestPageSize: .size2m)
        let scenario = PageTableScenario(guest: guest, writePercent: 100)
        #expect(scenario.notices.first?.hasPrefix("huge mappings impossible: --backing anonymous-4k") == true)
        let sample = try scenario.measure(in: TestHost.context())
        #expect(sample.notes.contains { $0.hasPrefix("huge mappings impossible:") })
        #expect(sample.phaseStats?["after.create"]?["pages_2m"] == 0)
        #expect((sample.phaseStats?["after.create"]?["pages_4k"] ?? 0) >= 1024)
        #expect(sample.perVCPU?.first?["rebuild_write_percent"] == 100) // --write-percent applies to every phase
    }

    /// kvm_page_table_test's shape: one region for all vCPUs, and no phase pays for host page
    /// allocation (odd vCPUs reading untouched memory used to map the zero page, so the update
    /// phase paid copy-on-write for it).
    @Test(arguments: [PageTableScenario.RegionShape.shared, .private])
    func noPhaseAllocatesHostPages(region: PageTableScenario.RegionShape) throws {
        let limits = HostLimits(maxVCPUs: 1024, memslots: 32764, memAvailable: nil)
        let scenario = try PageTableScenario(parameters: ParameterSet([
            "vcpus": "2", "mem_per_vcpu": "8M", "backing": "anonymous-4k", "guest_page_size": "4k", "region": region.rawValue,
        ]), limits: limits)
        #expect(scenario.parameters["region"] == region.rawValue)
        let sample = try scenario.measure(in: TestHost.context())
        let pages = Int64(8 << 20) / 4096 * (region == .shared ? 1 : 2)
        for phase in ["create", "update", "rebuild"] {
            let faults = try #require(sample.phaseStats?[phase]?["host_minor_faults"])
            #expect(faults <= 16 + pages / 100, "\(phase) took \(faults) host page faults for \(pages) guest pages")
        }
        // Shared: both vCPUs map the same pages, so KVM holds one region's worth of mappings.
        let mapped = try #require(sample.phaseStats?["after.create"]?["pages_4k"])
        #expect(mapped >= pages && mapped < pages + pages / 2 + 64)
    }

    @Test func theSharedRegionIsTheDefaultShape() throws {
        let limits = HostLimits(maxVCPUs: 1024, memslots: 32764, memAvailable: nil)
        let scenario = try PageTableScenario(parameters: ParameterSet(["vcpus": "4", "mem_per_vcpu": "64M"]), limits: limits)
        #expect(scenario.region == .shared)
        #expect(scenario.guest.testSize == 64 << 20)
        #expect(scenario.guest.hostPrefault)
        #expect(throws: ParameterError.self) { try PageTableScenario(parameters: ParameterSet(["region": "both"]), limits: limits) }
    }

    @Test func writePercentIsRecordedAndRepeatable() throws {
        let limits = HostLimits(maxVCPUs: 1024, memslots: 32764, memAvailable: nil)
        let selftest = try PageTableScenario(parameters: ParameterSet([:]), limits: limits)
        #expect(selftest.parameters["write_percent"] == "selftest")
        #expect(selftest.writePercent == nil)
        let again = try PageTableScenario(parameters: ParameterSet(selftest.parameters), limits: limits)
        #expect(again.parameters == selftest.parameters)
        let fixed = try PageTableScenario(parameters: ParameterSet(["write_percent": "30"]), limits: limits)
        #expect(fixed.writePercent == 30)
        #expect(throws: ParameterError.self) { try PageTableScenario(parameters: ParameterSet(["vcpus": "0"]), limits: limits) }
        #expect(throws: ParameterError.self) {
            try PageTableScenario(parameters: ParameterSet(["guest_page_size": "2m", "mem_per_vcpu": "3M", "backing": "anonymous-4k"]), limits: limits)
        }
    }
}
