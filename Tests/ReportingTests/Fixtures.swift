// FIXTURES FOR RENDERING ONLY.
// Hand-made result documents and comparisons with invented numbers, shaped to exercise every part
// of the reports (scaling sweeps, phases, every verdict, unsupported and failed cases, a reference
// baseline, hostile strings). They are not measurements and must never be used as baselines.

import Foundation
import Results

enum Fixtures {
    static let hostile = "<script>alert(1)</script> \"quoted\" 'single' & more | pipe"

    static func host(_ name: String, kernel: String = "6.8.0-kvmbench", cpu: String = "Intel(R) Xeon(R) Gold 6230") -> HostFingerprint {
        HostFingerprint(
            hostname: name, kernelRelease: kernel, cpuModel: cpu, onlineCPUs: 2,
            memTotalBytes: 8 << 30, numaNodes: 1, kvmModule: "kvm_intel",
            kvmParameters: ["kvm.tdp_mmu": "Y", "kvm_intel.ept": "Y"], kvmAPIVersion: 12,
            capabilities: ["KVM_CAP_DIRTY_LOG_RING_ACQ_REL": 65536, "KVM_CAP_NR_MEMSLOTS": 32764],
            thpMode: "madvise", hugepagePools: ["2M": 512, "1G": 0],
            topology: Topology(packages: 1, numaNodes: 1, cores: 2, processingUnits: 2,
                               caches: ["L1d": 32768, "L2": 1 << 20], coreCPUs: [[0], [1]]))
    }

    static let tool = ToolInfo(version: "0.1.0", gitCommit: "0123456789abcdef0123")
    static let start = Date(timeIntervalSince1970: 1_735_725_600)

    /// Samples spread ±2% around `median`.
    static func samples(_ median: Double) -> [Double] {
        [median * 0.98, median * 0.99, median, median * 1.01, median * 1.02]
    }

    static func time(_ name: String, _ seconds: Double, gate: Bool = true) -> Metric {
        Metric(name: name, unit: .seconds, better: .lower, samples: samples(seconds), gate: gate)
    }

    static func rate(_ name: String, _ perSecond: Double) -> Metric {
        Metric(name: name, unit: .pagesPerSecond, better: .higher, samples: samples(perSecond))
    }

    static func demandPaging(vcpus: Int, backing: String = "anonymous") -> CaseResult {
        let contention = backing == "anonymous" ? 0.15 : 0.08
        let efficiency = 1 / (1 + contention * Double(vcpus - 1))
        let pagesPerSecond = 250_000 * Double(vcpus) * efficiency
        return CaseResult(
            scenario: "demand-paging",
            parameters: ["vcpus": String(vcpus), "mem_per_vcpu": "512M", "backing": backing],
            metrics: [rate("demand_paging_rate", pagesPerSecond), time("first_touch_time", 131_072 / pagesPerSecond)],
            kvmStats: ["pf_taken": 131_072 * Int64(vcpus), "pages_4k": 131_072 * Int64(vcpus), "remote_tlb_flush": 0],
            perVCPU: (0..<vcpus).map { index in ["demand_paging_rate": pagesPerSecond / Double(vcpus) * (1 + Double(index) * 0.03)] })
    }

    static func pageTable(vcpus: Int) -> CaseResult {
        CaseResult(
            scenario: "page-table",
            parameters: ["vcpus": String(vcpus), "mem_per_vcpu": "1G", "backing": "anonymous-thp"],
            metrics: [
                time("phase.create_mappings", 0.8 * Double(vcpus).squareRoot()),
                time("phase.update_mappings", 0.5 * Double(vcpus).squareRoot()),
                time("phase.adjust_mappings", 0.3 * Double(vcpus).squareRoot()),
            ],
            kvmStats: ["pages_2m": 512 * Int64(vcpus)],
            phaseStats: ["create_mappings": ["pages_2m": 512 * Int64(vcpus)], "update_mappings": ["pages_2m": 0]])
    }

    static func memslots(slots: Int) -> CaseResult {
        CaseResult(
            scenario: "memslots", parameters: ["slots": String(slots), "slots_effective": String(min(slots, 32763))],
            metrics: [
                Metric(name: "map.average", unit: .seconds, better: .lower, samples: samples(0.019 + Double(slots) * 1e-6)),
                Metric(name: "slot_setup_time", unit: .seconds, better: .lower, samples: samples(Double(slots) * 2e-5)),
            ],
            notes: slots > 32763 ? ["slots capped at 32763"] : [])
    }

    static let dirtyLogging = CaseResult(
        scenario: "dirty-logging",
        parameters: ["vcpus": "2", "mem_per_vcpu": "1G", "dirty_mode": "ring"],
        metrics: [
            time("populate_time", 0.42), time("enable_dirty_logging_time", 0.004),
            time("iteration_dirty_time", 0.12), time("get_dirty_log_time", 0.031),
            Metric(name: "dirty_pages", unit: .count, better: .lower, samples: [262_144, 262_144, 262_144]),
        ])

    /// Host A: sweeps over vCPUs (two backings), slots, phases, plus one unsupported and one failed case.
    static func documentA() -> ResultDocument {
        var cases = [1, 2, 4, 8].map { demandPaging(vcpus: $0) }
        cases += [1, 2, 4].map { demandPaging(vcpus: $0, backing: "anonymous-thp") }
        cases += [1, 2].map { pageTable(vcpus: $0) }
        cases.append(dirtyLogging)
        cases += [10, 100, 509, 32768].map { memslots(slots: $0) }
        cases.append(CaseResult(scenario: "demand-paging",
                                parameters: ["vcpus": "2", "mem_per_vcpu": "1G", "backing": "hugetlb-1G"],
                                status: .unsupported, reason: "no 1G hugepages in the pool (hugepages-1048576kB/nr_hugepages = 0)"))
        cases.append(CaseResult(scenario: "zap-all", parameters: ["vcpus": "2"], status: .failed,
                                reason: "vCPU 1 exited with KVM_EXIT_SHUTDOWN (triple fault) in pass 2"))
        return ResultDocument(kvmbench: tool, host: host("kvm-host-a"), startedAt: start,
                              finishedAt: start.addingTimeInterval(754), cases: cases)
    }

    /// Host B: a shorter, interrupted run on another machine.
    static func documentB() -> ResultDocument {
        ResultDocument(kvmbench: tool, host: host("kvm-host-b", kernel: "6.12.0", cpu: "AMD EPYC 7B13"),
                       startedAt: start, finishedAt: start.addingTimeInterval(95), interrupted: true,
                       cases: [demandPaging(vcpus: 1), demandPaging(vcpus: 2)])
    }

    /// A document whose every free-text field is hostile.
    static func hostileDocument() -> ResultDocument {
        var hostileCase = demandPaging(vcpus: 1)
        hostileCase.parameters["backing"] = hostile
        hostileCase.notes = [hostile]
        return ResultDocument(
            kvmbench: tool, host: host(hostile), startedAt: start, finishedAt: start.addingTimeInterval(5),
            cases: [
                hostileCase,
                CaseResult(scenario: "memslots", parameters: ["slots": hostile], status: .unsupported, reason: hostile),
                CaseResult(scenario: "zap-all", parameters: ["vcpus": "1"], status: .failed, reason: hostile),
            ])
    }

    static func compared(_ caseResult: CaseResult, _ metric: String, before: Double, after: Double,
                         verdict: Verdict, p: Double?, interval: [Double]? = nil, gate: Bool = true) -> MetricComparison {
        let unit = caseResult.metric(named: metric)?.unit ?? .seconds
        let better = caseResult.metric(named: metric)?.better ?? .lower
        return MetricComparison(
            caseKey: caseResult.key, scenario: caseResult.scenario, parameters: caseResult.parameters,
            metric: metric, unit: unit, better: better, gate: gate,
            beforeSamples: samples(before), afterSamples: samples(after), beforeMedian: before, afterMedian: after,
            change: after / before - 1, ratioInterval: interval, pValue: p, threshold: 0.05, verdict: verdict,
            explanation: "p = \(p ?? .nan), \(verdict.rawValue) beyond 5%")
    }

    /// Reference baseline (before) against host A's document (after), with every verdict.
    static func comparison(after: ResultDocument = documentA()) -> DocumentComparison {
        let byKey = Dictionary(after.cases.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        func item(_ scenario: String, _ parameters: [String: String]) -> CaseResult {
            byKey[CaseResult(scenario: scenario, parameters: parameters).key] ?? CaseResult(scenario: scenario, parameters: parameters)
        }
        let dp4 = item("demand-paging", ["vcpus": "4", "mem_per_vcpu": "512M", "backing": "anonymous"])
        let dp1 = item("demand-paging", ["vcpus": "1", "mem_per_vcpu": "512M", "backing": "anonymous"])
        let pt2 = item("page-table", ["vcpus": "2", "mem_per_vcpu": "1G", "backing": "anonymous-thp"])
        let ms509 = item("memslots", ["slots": "509", "slots_effective": "509"])
        let metrics = [
            compared(dp1, "demand_paging_rate", before: 251_000, after: 249_500, verdict: .unchanged, p: 0.62, interval: [0.97, 1.02]),
            compared(ms509, "slot_setup_time", before: 0.0135, after: 0.0102, verdict: .improved, p: 0.004, interval: [0.71, 0.79]),
            compared(dp4, "demand_paging_rate", before: 820_000, after: 689_655, verdict: .regressed, p: 0.008, interval: [0.80, 0.88]),
            compared(dp4, "first_touch_time", before: 0.16, after: 0.19, verdict: .regressed, p: 0.008, interval: [1.12, 1.24]),
            compared(pt2, "phase.create_mappings", before: 1.20, after: 1.13, verdict: .notSignificant, p: 0.21),
            compared(pt2, "phase.update_mappings", before: 0.70, after: 0.71, verdict: .unchanged, p: 0.9),
            compared(pt2, "phase.adjust_mappings", before: 0.40, after: 0.52, verdict: .noisy, p: 0.3),
            compared(dp1, "first_touch_time", before: 0.52, after: 0.60, verdict: .regressed, p: 0.03, gate: false),
        ]
        return DocumentComparison(
            before: ComparisonSide(label: "lkml-2021-memslots", host: host("xeon-8167m", cpu: "Intel(R) Xeon(R) Platinum 8167M"),
                                   kvmbench: ToolInfo(version: "reference", gitCommit: nil), isReference: true),
            after: ComparisonSide(label: "results/kvm-host-a.json", host: after.host, kvmbench: after.kvmbench),
            hostDifferences: [HostDifference(field: "cpu_model", before: "Intel(R) Xeon(R) Platinum 8167M", after: after.host.cpuModel)],
            metrics: metrics,
            uncompared: [
                UncomparedCase(caseKey: "demand-paging[backing=hugetlb-1G,mem_per_vcpu=1G,vcpus=2]", scenario: "demand-paging",
                               parameters: ["vcpus": "2", "mem_per_vcpu": "1G", "backing": "hugetlb-1G"],
                               kind: "unsupported", reason: "no 1G hugepages in the pool", verdict: .skipped),
                UncomparedCase(caseKey: "zap-all[vcpus=2]", scenario: "zap-all", parameters: ["vcpus": "2"],
                               kind: "failed", reason: "vCPU 1 exited with KVM_EXIT_SHUTDOWN", verdict: .failed),
            ])
    }

    /// A comparison whose labels, parameters, reasons and explanations are all hostile.
    static func hostileComparison() -> DocumentComparison {
        let document = hostileDocument()
        guard let first = document.cases.first else { return comparison() }
        var metric = compared(first, "first_touch_time", before: 0.5, after: 0.7, verdict: .regressed, p: 0.001)
        metric.explanation = hostile
        return DocumentComparison(
            before: ComparisonSide(label: hostile, host: document.host, kvmbench: tool, isReference: true),
            after: ComparisonSide(label: hostile, host: document.host, kvmbench: tool),
            hostDifferences: [HostDifference(field: hostile, before: hostile, after: hostile)],
            metrics: [metric],
            uncompared: [UncomparedCase(caseKey: "memslots[slots=\(hostile)]", scenario: "memslots",
                                        parameters: ["slots": hostile], kind: "unsupported", reason: hostile, verdict: .skipped)])
    }
}

extension MetricDeclarationLookup {
    /// For rendering tests only (Reporting cannot see the scenarios' declarations): every metric of
    /// `document` declared as it was recorded there. The declarations themselves are checked
    /// against the committed documents in SuitesTests.
    static func recordedIn(_ document: ResultDocument) -> MetricDeclarationLookup {
        var known: [String: MetricDefinition] = [:]
        for item in document.cases {
            for metric in item.metrics {
                known[item.scenario + "\u{0}" + metric.name] = MetricDefinition(metric.name, unit: metric.unit, better: metric.better, gated: metric.gate)
            }
        }
        let table = known
        return MetricDeclarationLookup { scenario, _, metric, _ in
            table[scenario + "\u{0}" + metric].map { .declared($0) } ?? .undeclared
        }
    }
}
