import Foundation
import KVM
import Results
@testable import Harness
@testable import Scenarios
import Testing
import TestSupport

private let hostLimits = HostLimits(maxVCPUs: 1024, memslots: 32764, memAvailable: nil)

/// Whether this host's KVM uses the TDP MMU (where KVM_PRE_FAULT_MEMORY works on x86).
private var tdpMMU: Bool {
    ((try? String(contentsOfFile: "/sys/module/kvm/parameters/tdp_mmu", encoding: .utf8)) ?? "N").hasPrefix("Y")
}

@Suite("--populate pre-fault parameters")
struct PreFaultParameterTests {
    @Test func dirtyLoggingNeedsAHostPopulatedBackingAndDemandPagingNoUserfaultfd() throws {
        #expect(throws: ParameterError.self) {
            _ = try DirtyLoggingScenario(parameters: ParameterSet(["populate": "pre-fault"]), limits: hostLimits)
        }
        #expect(throws: ParameterError.self) {
            _ = try DemandPagingScenario(parameters: ParameterSet(["populate": "pre-fault", "uffd": "missing"]), limits: hostLimits)
        }
        #expect(throws: ParameterError.self) {
            _ = try DemandPagingScenario(parameters: ParameterSet(["populate": "prefault"]), limits: hostLimits)
        }
        let dirty = try DirtyLoggingScenario(parameters: ParameterSet(["populate": "pre-fault", "host_prefault": "true"]), limits: hostLimits)
        #expect(dirty.parameters["populate"] == "pre-fault")
        #expect(try DemandPagingScenario(parameters: ParameterSet([:]), limits: hostLimits).parameters["populate"] == nil)
    }
}

/// KVM_PRE_FAULT_MEMORY for real: EOPNOTSUPP under shadow paging (this host), decided before
/// anything is timed; every page mapped before the guest runs under the TDP MMU (the TDP lane).
@Suite("--populate pre-fault on a real guest", .serialized,
       .enabled(if: KVMSystem.isUsable(), "needs /dev/kvm: skipped"))
struct PreFaultKVMTests {
    @Test func demandPagingPreFaultsEveryPageOrIsUnsupportedWithTheReason() throws {
        let scenario = try DemandPagingScenario(parameters: ParameterSet(["vcpus": "2", "mem_per_vcpu": "4M", "populate": "pre-fault",
                                                                          "host_prefault": "true"]), limits: hostLimits)
        guard tdpMMU else {
            do {
                _ = try scenario.measure(in: TestHost.context())
                Issue.record("KVM_PRE_FAULT_MEMORY worked on a host without the TDP MMU")
            } catch let unsupported as ScenarioUnsupported {
                #expect(unsupported.reason.contains("KVM_PRE_FAULT_MEMORY answers EOPNOTSUPP") || unsupported.reason.contains("KVM_CAP_PRE_FAULT_MEMORY is 0"),
                        "\(unsupported.reason)")
            }
            return
        }
        let sample = try scenario.measure(in: TestHost.context())
        let pages: Int64 = 2 * 1024
        let preFault = try #require(sample.phaseStats?["pre_fault"])
        #expect((preFault["pages_4k"] ?? 0) + 512 * (preFault["pages_2m"] ?? 0) >= pages)
        // The guest found its memory mapped: its first touch faulted only on its own image pages.
        #expect((sample.phaseStats?["first_touch"]?["pf_taken"] ?? pages) * 2 < pages)
        #expect((sample.metrics.first { $0.name == "pre_fault_time" }?.value ?? 0) > 0)
        #expect(sample.perVCPU?.allSatisfy { ($0["pre_fault_time"] ?? 0) > 0 } == true)
    }

    @Test func dirtyLoggingPopulatesWithPreFaultOrIsUnsupportedWithTheReason() throws {
        let scenario = try DirtyLoggingScenario(parameters: ParameterSet(["mem_per_vcpu": "4M", "populate": "pre-fault", "host_prefault": "true"]),
                                                limits: hostLimits)
        guard tdpMMU else {
            let unsupported = #expect(throws: ScenarioUnsupported.self) { _ = try scenario.measure(in: TestHost.context()) }
            let reason = unsupported?.reason ?? ""
            #expect(reason.contains("KVM_PRE_FAULT_MEMORY answers EOPNOTSUPP") || reason.contains("KVM_CAP_PRE_FAULT_MEMORY is 0"), "\(reason)")
            return
        }
        let sample = try scenario.measure(in: TestHost.context())
        let populate = try #require(sample.phaseStats?["populate"])
        #expect((populate["pages_4k"] ?? 0) >= 1024)
        #expect((populate["pf_taken"] ?? 0) == 0) // no guest ran: KVM mapped every page itself
    }
}
