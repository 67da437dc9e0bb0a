import Foundation
import Host
import Testing
import TestSupport
@testable import Harness
@testable import Scenarios

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
