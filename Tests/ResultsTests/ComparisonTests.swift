import Foundation
import Testing
import Pipeline
import Results
import Statistics

@Suite("DocumentComparison.compare")
struct ComparisonTests {
    static let before = [100.0, 101.2, 99.1, 100.6, 99.7, 100.9, 99.4, 100.3, 101.5, 99.8]

    static func host(kernel: String = "6.8.0", thp: String = "always",
                     parameters: [String: String] = ["kvm.tdp_mmu": "Y"]) -> HostFingerprint {
        HostFingerprint(hostname: "bench", kernelRelease: kernel, cpuModel: "Test CPU", onlineCPUs: 2,
                        memTotalBytes: 8 << 30, numaNodes: 1, kvmModule: "kvm_intel",
                        kvmParameters: parameters, kvmAPIVersion: 12, capabilities: [:], thpMode: thp,
                        hugepagePools: [:], topology: nil)
    }

    static func document(_ cases: [CaseResult], host: HostFingerprint = host()) -> ResultDocument {
        ResultDocument(kvmbench: ToolInfo(version: "0.1.0", gitCommit: nil), host: host,
                       startedAt: Date(timeIntervalSince1970: 0), cases: cases)
    }

    static func faultCase(vcpus: Int, samples: [Double], rate: [Double]? = nil) -> CaseResult {
        var metrics = [Metric(name: "first_touch_time", unit: .seconds, better: .lower, samples: samples)]
        if let rate { metrics.append(Metric(name: "demand_paging_rate", unit: .pagesPerSecond, better: .higher, samples: rate)) }
        return CaseResult(scenario: "demand-paging", parameters: ["vcpus": "\(vcpus)"], metrics: metrics)
    }

    @Test func comparesMetricsPresentOnBothSides() throws {
        let slower = Self.before.map { $0 * 1.2 }
        let comparison = DocumentComparison.compare(
            before: Self.document([Self.faultCase(vcpus: 1, samples: Self.before, rate: Self.before)]),
            beforeLabel: "main",
            after: Self.document([Self.faultCase(vcpus: 1, samples: slower, rate: slower)]),
            afterLabel: "patched", declarations: .kvmbench)
        #expect(comparison.uncompared.isEmpty)
        #expect(comparison.hostDifferences.isEmpty)
        let time = try #require(comparison.metrics.first { $0.metric == "first_touch_time" })
        #expect(time.verdict == .regressed)
        #expect(time.caseKey == "demand-paging[vcpus=1]")
        #expect(abs(time.change - 0.2) < 1e-12)
        #expect(time.pValue != nil && time.ratioInterval != nil)
        #expect(time.threshold == 0.05)
        let rate = try #require(comparison.metrics.first { $0.metric == "demand_paging_rate" })
        #expect(rate.verdict == .improved)
        #expect(comparison.verdictCounts == [.regressed: 1, .improved: 1])
        #expect(comparison.before.label == "main" && comparison.after.label == "patched")
    }

    @Test func identicalDocumentsAreUnchanged() {
        let document = Self.document([Self.faultCase(vcpus: 1, samples: Self.before),
                                      Self.faultCase(vcpus: 2, samples: Self.before)])
        let comparison = DocumentComparison.compare(before: document, beforeLabel: "a", after: document, afterLabel: "b", declarations: .kvmbench)
        #expect(comparison.metrics.count == 2)
        #expect(comparison.metrics.allSatisfy { $0.verdict == .unchanged })
    }

    @Test func perMetricThresholdApplies() throws {
        let options = ComparisonOptions(metricThresholds: ["first_touch_time": 0.25])
        let comparison = DocumentComparison.compare(
            before: Self.document([Self.faultCase(vcpus: 1, samples: Self.before)]), beforeLabel: "a",
            after: Self.document([Self.faultCase(vcpus: 1, samples: Self.before.map { $0 * 1.2 })]),
            afterLabel: "b", declarations: .kvmbench, options: options)
        let metric = try #require(comparison.metrics.first)
        #expect(metric.threshold == 0.25)
        #expect(metric.verdict == .unchanged)
    }

    @Test func unmatchedAndUnusableCasesAreListed() {
        var unsupported = Self.faultCase(vcpus: 4, samples: [])
        unsupported.status = .unsupported
        unsupported.reason = "no hugepages"
        var failed = Self.faultCase(vcpus: 8, samples: [])
        failed.status = .failed
        failed.reason = "guest crashed"
        let comparison = DocumentComparison.compare(
            before: Self.document([Self.faultCase(vcpus: 1, samples: Self.before), unsupported,
                                   Self.faultCase(vcpus: 8, samples: Self.before)]),
            beforeLabel: "main",
            after: Self.document([Self.faultCase(vcpus: 2, samples: Self.before),
                                  Self.faultCase(vcpus: 4, samples: Self.before), failed]),
            afterLabel: "patched", declarations: .kvmbench)
        #expect(comparison.metrics.isEmpty)
        let kinds = Dictionary(uniqueKeysWithValues: comparison.uncompared.map { ($0.caseKey, $0.kind) })
        #expect(kinds == ["demand-paging[vcpus=1]": "only-before", "demand-paging[vcpus=2]": "only-after",
                          "demand-paging[vcpus=4]": "unsupported", "demand-paging[vcpus=8]": "failed"])
        let failure = comparison.uncompared.first { $0.kind == "failed" }
        #expect(failure?.reason == "failed in patched: guest crashed")
        // The gate's verdict of each: missing, new and unsupported only in the baseline (nothing to judge), failed.
        let verdicts = Dictionary(uniqueKeysWithValues: comparison.uncompared.map { ($0.caseKey, $0.caseVerdict) })
        #expect(verdicts == ["demand-paging[vcpus=1]": .missing, "demand-paging[vcpus=2]": .skipped,
                             "demand-paging[vcpus=4]": .skipped, "demand-paging[vcpus=8]": .failed])
    }

    @Test func hostDifferencesAreReported() {
        let before = Self.document([], host: Self.host(kernel: "6.8.0", thp: "always"))
        let after = Self.document([], host: Self.host(kernel: "6.9.0", thp: "madvise",
                                                      parameters: ["kvm.tdp_mmu": "N"]))
        let all = DocumentComparison.compare(before: before, beforeLabel: "a", after: after, afterLabel: "b", declarations: .kvmbench)
        #expect(all.hostDifferences.map(\.field) == ["kernel_release", "thp_mode", "kvm_parameters.kvm.tdp_mmu"])
        #expect(all.hostDifferences.first == HostDifference(field: "kernel_release", before: "6.8.0", after: "6.9.0"))
        let ignoring = DocumentComparison.compare(before: before, beforeLabel: "a", after: after, afterLabel: "b",
                                                  declarations: .kvmbench, options: ComparisonOptions(ignoreKernelDifference: true))
        #expect(ignoring.hostDifferences.map(\.field) == ["thp_mode", "kvm_parameters.kvm.tdp_mmu"])
    }

    @Test func referenceFlagIsRecorded() {
        let document = Self.document([])
        let comparison = DocumentComparison.compare(before: document, beforeLabel: "paper", beforeIsReference: true,
                                                    after: document, afterLabel: "here", declarations: .kvmbench)
        #expect(comparison.before.isReference)
        #expect(!comparison.after.isReference)
    }
}
