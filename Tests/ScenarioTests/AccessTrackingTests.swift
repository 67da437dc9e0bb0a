import Foundation
import Host
import Results
@testable import Scenarios
import Testing

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
