import Foundation
import Backings
import Host
import KVM
import Results
@testable import Harness
@testable import Scenarios
import Testing
import TestSupport

/// access-tracking on this machine: ok through MGLRU where the host has it usable (the TDP
/// lane's 6.12 kernel), else unsupported with exactly what is missing.
@Suite("access-tracking on a real guest", .serialized,
       .enabled(if: KVMSystem.isUsable(), "needs /dev/kvm: skipped"))
struct AccessTrackingKVMTests {
    @Test func agesTheGuestThroughMGLRUOrSaysPreciselyWhyNot() throws {
        let scenario = try AccessTrackingScenario(parameters: ParameterSet(["vcpus": "2", "mem_per_vcpu": "4M"]),
                                                  limits: HostLimits(maxVCPUs: 1024, memslots: 32764, memAvailable: nil))
        let probe = AgingProbe().probe()
        let driverReason = LRUGen().unusableReason()
        let tracefs = TracepointCounter.id(system: "kvm", event: "kvm_age_hva")
        guard probe == .available(.mglru), driverReason == nil, case .success = tracefs, getuid() == 0 else {
            do {
                _ = try scenario.measure(in: TestHost.context())
                Issue.record("access-tracking ran without a usable MGLRU, tracefs and root: \(probe)")
            } catch let unsupported as ScenarioUnsupported {
                if !FileManager.default.fileExists(atPath: "/sys/kernel/mm/lru_gen") {
                    #expect(unsupported.reason.contains("no MGLRU (/sys/kernel/mm/lru_gen absent)"))
                    #expect(unsupported.reason.contains("page_idle"))
                } else {
                    #expect(unsupported.reason.hasPrefix("access-tracking"))
                }
            }
            return
        }
        let sample = try scenario.measure(in: TestHost.context())
        func metric(_ name: String) -> Double { sample.metrics.first { $0.name == name }?.value ?? -1 }
        let pages = 2.0 * 1024
        #expect(sample.extraParameters["aging_mechanism"] == "mglru")
        #expect(metric("pages_touched") == pages)
        // KVM's clear_young ran for every guest page, and the counts follow what the guest did.
        #expect(metric("age_notifier_calls") >= pages)
        for name in ["pages_young_at_mark", "pages_idle", "pages_young_after_write", "pages_young_after_read"] {
            #expect(metric(name) >= pages * 0.9, "\(name) \(metric(name)) of \(pages)")
        }
        for name in ["populate_time", "write_populated_time", "read_populated_time", "mark_idle_time", "write_idle_time", "read_idle_time"] {
            #expect(metric(name) > 0, "\(name)")
        }
        #expect(sample.perVCPU?.count == 2 && sample.perVCPU?.allSatisfy { ($0["write_idle_time"] ?? 0) > 0 } == true)
        // The cgroup is gone and kvmbench is back where it was.
        #expect(!((try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)) ?? "").contains("kvmbench-aging-"))
    }

    @Test func hugetlbAndGuestMemfdAreRefusedBeforeAnyGuest() {
        for backing in ["hugetlb-2m", "guest-memfd"] {
            #expect(throws: ParameterError.self) {
                _ = try AccessTrackingScenario(parameters: ParameterSet(["backing": backing]),
                                               limits: HostLimits(maxVCPUs: 1024, memslots: 32764, memAvailable: nil))
            }
        }
    }
}
