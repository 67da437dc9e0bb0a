import Foundation
import Results
import Scenarios
import Suites

/// Shared helpers of the suite tests, and of the parameter table test (ParametersTests), which
/// plans the shipped suites.
public enum Fixtures {
    /// Limits of a host like this project's (PVM: 32764 memslots, 1024 vCPUs).
    /// This project's host: 1024 vCPUs, 32764 memslots, dirty rings of up to 64 KiB per vCPU and
    /// both manual-protect flags (KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET).
    public static let limits: HostLimits = {
        var limits = HostLimits(maxVCPUs: 1024, memslots: 32764, memAvailable: nil)
        limits.dirtyRingMaxBytes = 65536
        limits.manualDirtyLogProtectFlags = 3
        return limits
    }()

    /// The checkout this test binary was built from (it holds Suites/, Baselines/, Schemas/).
    public static var root: URL {
        if let root = ProjectPaths.checkoutRoot() { return root }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    public static var suites: SuiteLibrary { SuiteLibrary(directory: root.appendingPathComponent("Suites")) }
    public static var baselines: BaselineStore { BaselineStore(directory: root.appendingPathComponent("Baselines")) }

    /// A fresh empty directory under the system's temporary directory.
    public static func temporaryDirectory(_ name: String = #function) throws -> URL {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("kvmbench-suite-tests-\(safe)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    public static func host(hostname: String = "bench", kernel: String = "6.18.0", thp: String = "madvise") -> HostFingerprint {
        HostFingerprint(hostname: hostname, kernelRelease: kernel, cpuModel: "Test CPU", onlineCPUs: 2,
                        memTotalBytes: 8 << 30, numaNodes: 1, kvmModule: "kvm_pvm",
                        kvmParameters: ["kvm.tdp_mmu": "N"], kvmAPIVersion: 12,
                        capabilities: ["KVM_CAP_NR_MEMSLOTS": 32764], thpMode: thp, hugepagePools: [:], topology: nil)
    }

    public static func document(_ cases: [CaseResult], host: HostFingerprint = host(), suite: SuiteRecord? = nil) -> ResultDocument {
        ResultDocument(kvmbench: ToolInfo(version: "0.1.0", gitCommit: nil), host: host, suite: suite,
                       startedAt: Date(timeIntervalSince1970: 1_700_000_000), finishedAt: Date(timeIntervalSince1970: 1_700_000_100),
                       cases: cases)
    }

    /// Ten samples around 100 with about 1% spread.
    public static let samples = [100.0, 101.2, 99.1, 100.6, 99.7, 100.9, 99.4, 100.3, 101.5, 99.8]

    public static func timeCase(vcpus: Int, samples: [Double] = samples, scenario: String = "demand-paging") -> CaseResult {
        CaseResult(scenario: scenario, parameters: ["vcpus": "\(vcpus)"],
                   metrics: [Metric(name: "first_touch_time", unit: .seconds, better: .lower, samples: samples),
                             Metric(name: "demand_paging_rate", unit: .pagesPerSecond, better: .higher,
                                    samples: samples.map { 1e6 / $0 })])
    }

    public static func loaded(_ document: ResultDocument, label: String, baseline: BaselineHeader? = nil) -> LoadedDocument {
        LoadedDocument(document: document, baseline: baseline, label: label, url: URL(fileURLWithPath: "/nonexistent/\(label)"))
    }

    /// Writes `text` to a new file and returns its URL.
    public static func write(_ text: String, name: String, in directory: URL) throws -> URL {
        let url = directory.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url
    }
}
