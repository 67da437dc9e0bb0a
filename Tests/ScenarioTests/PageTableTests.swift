import Backings
import GuestPrograms
import KVM
import Results
import Scenarios
import Testing

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
