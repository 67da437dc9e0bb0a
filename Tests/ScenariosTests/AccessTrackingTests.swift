import Foundation
import Backings
import Host
import KVM
import Results
@testable import Harness
@testable import Scenarios
import Testing
import TestSupport

/// A fake /sys/kernel/mm with the given files.
private func fakeMM(_ files: [String: String]) throws -> String {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("kvmbench-mm-\(UUID().uuidString)").path
    for (path, content) in files {
        let url = URL(fileURLWithPath: root + "/" + path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try content.write(to: url, atomically: true, encoding: .utf8)
    }
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    return root
}

@Suite("access-tracking aging probe")
struct AgingProbeTests {
    @Test func prefersMGLRUThenIdlePageTrackingThenAFreeKdamond() throws {
        let all = try fakeMM(["lru_gen/enabled": "0x0007\n", "page_idle/bitmap": "", "damon/admin/kdamonds/nr_kdamonds": "0\n"])
        #expect(AgingProbe(mmRoot: all).probe() == .available(.mglru))
        let idle = try fakeMM(["page_idle/bitmap": ""])
        #expect(AgingProbe(mmRoot: idle).probe() == .available(.pageIdle))
        let damon = try fakeMM(["damon/admin/kdamonds/nr_kdamonds": "1\n", "damon/admin/kdamonds/0/state": "off\n"])
        #expect(AgingProbe(mmRoot: damon).probe() == .available(.damonVaddr))
    }

    @Test func aRunningKdamondOrNoInterfaceAtAllIsTheReason() throws {
        let busy = try fakeMM(["damon/admin/kdamonds/nr_kdamonds": "1\n", "damon/admin/kdamonds/0/state": "on\n",
                               "damon/admin/kdamonds/0/pid": "73\n", "damon/admin/kdamonds/0/contexts/0/operations": "paddr\n"])
        guard case .unavailable(let reason) = AgingProbe(mmRoot: busy).probe() else { Issue.record("a running kdamond is not free"); return }
        #expect(reason.contains("kdamond 0 (pid 73, operations paddr) is running") && reason.contains("EBUSY"))
        #expect(reason.contains("lru_gen absent") && reason.contains("page_idle/bitmap absent"))
        guard case .unavailable(let none) = AgingProbe(mmRoot: try fakeMM([:])).probe() else { Issue.record("nothing offered"); return }
        #expect(none.contains("no DAMON sysfs interface"))
    }

    @Test func theCaseIsUnsupportedWithTheProbesReason() throws {
        var scenario = try AccessTrackingScenario(parameters: ParameterSet(["vcpus": "2"]), limits: HostLimits(maxVCPUs: 1024, memslots: 32764, memAvailable: nil))
        scenario.probe = AgingProbe(mmRoot: try fakeMM([:]))
        do {
            _ = try scenario.measure(in: TestHost.context())
            Issue.record("access-tracking ran without an aging mechanism")
        } catch let unsupported as ScenarioUnsupported {
            #expect(unsupported.reason.hasPrefix("access-tracking needs an aging mechanism that reaches KVM's MMU notifier (kvm_age_gfn): no MGLRU"))
        }
    }
}

@Suite("access-tracking MGLRU counts")
struct LRUGenerationTests {
    // What /sys/kernel/debug/lru_gen prints for two memcgs; ours has two nodes.
    let before = """
    memcg     1 /
     node     0
              5      10000        300        900
              6        300        100         20
    memcg    42 /kvmbench-aging-7
     node     0
              3       4000       1000          0
              4        100       2000         10
     node     1
              7         40        500          0
    memcg    43 /other
     node     0
              1         10        999        999
    """

    @Test func parsesOnlyTheNamedMemcgPerNode() throws {
        let parsed = try #require(LRUGenerations.parse(before, memcgPath: "/kvmbench-aging-7"))
        #expect(parsed.memcgID == 42)
        #expect(parsed.nodes[0]?.map(\.seq) == [3, 4] && parsed.nodes[1]?.map(\.seq) == [7])
        #expect(parsed.totalPages == 1000 + 2010 + 500)
        #expect(parsed.maxSeqs == [0: 4, 1: 7])
        #expect(LRUGen().agingCommands(parsed).map { String(decoding: $0, as: UTF8.self) } == ["+ 42 0 4 1 1\n", "+ 42 1 7 1 1\n"])
        #expect(LRUGenerations.parse(before, memcgPath: "/absent") == nil)
    }

    @Test func youngPagesAreThoseInTheGenerationThatWasYoungestBeforeThePass() throws {
        let parsedBefore = try #require(LRUGenerations.parse(before, memcgPath: "/kvmbench-aging-7"))
        // After the pass: node 0 found 1500 young pages (now in seq 4), node 1 none (all 500 in seq 7 stayed... as young)
        let after = """
        memcg    42 /kvmbench-aging-7
         node     0
                  3       4100       1200          0
                  4        200       1500         10
                  5          0          0          0
         node     1
                  6         90        500          0
                  7         50          0          0
                  8          0          0          0
        """
        let parsedAfter = try #require(LRUGenerations.parse(after, memcgPath: "/kvmbench-aging-7"))
        let result = parsedBefore.agingResult(after: parsedAfter)
        #expect(result.young == 1510 + 0)
        #expect(result.idle == 1200 + 500)
    }
}

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
