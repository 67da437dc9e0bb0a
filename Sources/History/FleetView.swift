import Foundation
import Results
import Statistics

/// The operator's question for a candidate kernel: per host class, which gated metrics regressed
/// against that class's history, and on how many hosts.
///
/// A host class is the hosts whose comparable fingerprint fields (`HostFingerprint.comparableFields`)
/// other than the hostname and the kernel match, and whose KVM parameters match: the hash part of
/// their host key. Per class, the history is the samples of the class's last `last` accepted runs
/// on other kernels, pooled per case; each class host's newest run on the candidate kernel is
/// compared against it with `DocumentComparison.compare` (kernel difference ignored, thresholds and
/// alpha from `options`), and every gated metric's verdicts are tallied over the hosts. Cases that
/// failed on a candidate host, or that the history measured and a candidate host lacks or could not
/// run, are listed per class (`cases`): they fail the fleet as they fail the gate.
public struct FleetView: Sendable, Codable, Equatable {
    public var kernel: String
    public var classes: [FleetClass]

    public struct FleetClass: Sendable, Codable, Equatable {
        /// The class id (the hash part of its host keys).
        public var hostClass: String
        /// What the class is, in words: CPU model, CPUs, memory, MMU.
        public var summary: String
        /// Every host key of the class, sorted.
        public var hosts: [String]
        /// The hosts with a run on the candidate kernel.
        public var candidateHosts: [String]
        /// The runs pooled as the class's history.
        public var historyRuns: [Int64]
        /// One row per case and gated metric, regressions first.
        public var metrics: [FleetMetric]
        /// Cases that failed on a candidate host, or that the class's history measured and a
        /// candidate host lacks (missing, newly unsupported, a gated metric missing): each fails
        /// the fleet as it fails the gate. Failed first.
        public var cases: [FleetCase]
        /// Trend series of the gated metrics that regressed (else of the first gated metric).
        public var trends: [FleetTrend]

        enum CodingKeys: String, CodingKey {
            case hostClass = "host_class", summary, hosts, candidateHosts = "candidate_hosts"
            case historyRuns = "history_runs", metrics, cases, trends
        }
    }

    /// A case with the same failing gate verdict on one or more hosts of a class.
    public struct FleetCase: Sendable, Codable, Equatable {
        public var caseKey: String
        public var scenario: String
        /// `failed`, `newly-unsupported` or `missing`.
        public var verdict: CaseVerdict
        public var hosts: [String]
        /// Per host, in the order of `hosts`: the reason.
        public var reasons: [String]
        enum CodingKeys: String, CodingKey { case caseKey = "case", scenario, verdict, hosts, reasons }
    }

    /// A recorded run that disagrees with kvmbench's metric declarations: the fleet is not judged.
    public struct Refusal: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public struct FleetMetric: Sendable, Codable, Equatable {
        public var caseKey: String
        public var scenario: String
        public var metric: String
        public var unit: MetricUnit
        public var better: Polarity
        public var threshold: Double
        /// Hosts on which this metric was compared.
        public var hostsCompared: Int
        public var regressed: [String]
        public var improved: [String]
        /// Hosts whose comparison could not decide (noisy, too few samples, not significant).
        public var undecided: [String]
        /// The median over the compared hosts of after/before - 1.
        public var medianChange: Double?

        enum CodingKeys: String, CodingKey {
            case caseKey = "case", scenario, metric, unit, better, threshold, hostsCompared = "hosts_compared"
            case regressed, improved, undecided, medianChange = "median_change"
        }
    }

    public struct FleetTrend: Sendable, Codable, Equatable {
        public var caseKey: String
        public var metric: String
        public var unit: MetricUnit
        public var better: Polarity
        public var series: [Series]

        public struct Series: Sendable, Codable, Equatable {
            public var host: String
            public var points: [Point]
        }

        public struct Point: Sendable, Codable, Equatable {
            /// The run's position in the class's runs, oldest first (1 = first).
            public var position: Int
            public var runID: Int64
            public var startedAt: String
            public var kernel: String
            public var median: Double
            public var low: Double?
            public var high: Double?
            enum CodingKeys: String, CodingKey {
                case position, runID = "run_id", startedAt = "started_at", kernel, median, low, high
            }
        }

        enum CodingKeys: String, CodingKey { case caseKey = "case", metric, unit, better, series }
    }

    /// The fleet view of `store` for `kernel` (default: the kernel of the newest run). `options`
    /// gives the comparison options of a scenario (the suite's thresholds and gated metrics);
    /// unit, polarity and gating come from `declarations`, and a run that disagrees with them
    /// throws `Refusal`; `trendLimit` caps the trend charts per class.
    public static func compute(store: any HistoryStore, kernel: String? = nil, last: Int = 10,
                               trendLimit: Int = 4, declarations: MetricDeclarationLookup,
                               options: (String) -> ComparisonOptions = { _ in ComparisonOptions() }) throws -> FleetView {
        precondition(last >= 1)
        let runs = try store.runs(host: nil)
        guard let candidate = kernel ?? runs.max(by: { ($0.startedAt, $0.id) < ($1.startedAt, $1.id) })?.kernelRelease else {
            return FleetView(kernel: kernel ?? "", classes: [])
        }
        var classOrder: [String] = []
        for run in runs where !classOrder.contains(run.hostClass) { classOrder.append(run.hostClass) }
        var classes: [FleetClass] = []
        for hostClass in classOrder {
            let classRuns = runs.filter { $0.hostClass == hostClass }
            let hosts = Set(classRuns.map(\.hostKey)).sorted()
            var candidates: [RunRecord] = []
            for host in hosts {
                if let newest = classRuns.last(where: { $0.hostKey == host && $0.kernelRelease == candidate }) { candidates.append(newest) }
            }
            guard !candidates.isEmpty else { continue }
            let history = Array(classRuns.filter { $0.accepted && $0.kernelRelease != candidate }.suffix(last))
            let recorded = try store.recordedRuns(ids: classRuns.map(\.id))
            let byID = Dictionary(uniqueKeysWithValues: recorded.compactMap { run in run.id.map { ($0, run) } })
            for run in history + candidates {
                guard let recordedRun = byID[run.id] else { continue }
                if let refusal = declarations.refusal(of: recordedRun.caseResults, label: "run \(run.id) of \(run.hostKey) (\(run.startedAt))") {
                    throw Refusal(description: refusal)
                }
            }
            let before = pooled(history.compactMap { byID[$0.id] })
            var problems: [FleetCase] = []
            func problem(_ key: String, _ scenario: String, _ verdict: CaseVerdict, host: String, reason: String) {
                if let index = problems.firstIndex(where: { $0.caseKey == key && $0.verdict == verdict }) {
                    guard !problems[index].hosts.contains(host) else { return }
                    problems[index].hosts.append(host)
                    problems[index].reasons.append(reason)
                } else {
                    problems.append(FleetCase(caseKey: key, scenario: scenario, verdict: verdict, hosts: [host], reasons: [reason]))
                }
            }
            for run in candidates {
                for item in byID[run.id]?.caseResults ?? [] where item.status == .failed {
                    problem(item.key, item.scenario, .failed, host: run.hostKey, reason: item.reason ?? "failed")
                }
            }
            var rows: [String: FleetMetric] = [:]
            var rowOrder: [String] = []
            var changes: [String: [Double]] = [:]
            if let before {
                for run in candidates {
                    guard let recordedRun = byID[run.id] else { continue }
                    let after = ResultDocument(kvmbench: ToolInfo(version: run.kvmbenchVersion, gitCommit: nil),
                                               host: run.host ?? before.host, cases: recordedRun.caseResults)
                    for scenario in Set(after.cases.map(\.scenario) + before.cases.map(\.scenario)).sorted() {
                        var scenarioOptions = options(scenario)
                        scenarioOptions.ignoreKernelDifference = true
                        var afterPart = after, beforePart = before
                        afterPart.cases = after.cases.filter { $0.scenario == scenario }
                        beforePart.cases = before.cases.filter { $0.scenario == scenario }
                        let comparison = DocumentComparison.compare(before: beforePart, beforeLabel: "class history",
                                                                    after: afterPart, afterLabel: run.hostKey,
                                                                    declarations: declarations, options: scenarioOptions)
                        for judgement in comparison.judgements where judgement.verdict.failsGate && judgement.verdict != .regressed {
                            problem(judgement.caseKey, judgement.scenario, judgement.verdict, host: run.hostKey, reason: judgement.reason)
                        }
                        for metric in comparison.metrics where metric.gate {
                            let key = metric.caseKey + "\u{0}" + metric.metric
                            if rows[key] == nil {
                                rowOrder.append(key)
                                rows[key] = FleetMetric(caseKey: metric.caseKey, scenario: metric.scenario, metric: metric.metric,
                                                        unit: metric.unit, better: metric.better, threshold: metric.threshold,
                                                        hostsCompared: 0, regressed: [], improved: [], undecided: [],
                                                        medianChange: nil)
                            }
                            rows[key]!.hostsCompared += 1
                            switch metric.verdict {
                            case .regressed: rows[key]!.regressed.append(run.hostKey)
                            case .improved: rows[key]!.improved.append(run.hostKey)
                            case .unchanged: break
                            default: rows[key]!.undecided.append(run.hostKey)
                            }
                            if metric.change.isFinite { changes[key, default: []].append(metric.change) }
                        }
                    }
                }
            }
            var metrics = rowOrder.compactMap { key -> FleetMetric? in
                var row = rows[key]
                row?.medianChange = changes[key].flatMap { $0.isEmpty ? nil : median($0) }
                return row
            }
            // Regressions first (most hosts first), keeping the recorded order otherwise.
            metrics = metrics.enumerated().sorted { a, b in
                (a.element.regressed.count, -a.offset) > (b.element.regressed.count, -b.offset)
            }.map(\.element)
            let plotted = metrics.filter { !$0.regressed.isEmpty }.prefix(trendLimit)
            let trendRows = plotted.isEmpty ? Array(metrics.prefix(1)) : Array(plotted)
            let trends = trendRows.map { trend(of: $0, runs: classRuns, recorded: byID) }
            let order: [CaseVerdict] = [.failed, .newlyUnsupported, .missing]
            problems = problems.enumerated().sorted { a, b in
                (order.firstIndex(of: a.element.verdict) ?? 9, a.offset) < (order.firstIndex(of: b.element.verdict) ?? 9, b.offset)
            }.map(\.element)
            classes.append(FleetClass(hostClass: hostClass, summary: summary(of: classRuns.last?.host),
                                      hosts: hosts, candidateHosts: candidates.map(\.hostKey),
                                      historyRuns: history.map(\.id), metrics: metrics, cases: problems, trends: trends))
        }
        return FleetView(kernel: candidate, classes: classes)
    }

    /// The cases of `runs` with every measured metric's samples pooled per case key, or nil without runs.
    static func pooled(_ runs: [RecordedRun]) -> ResultDocument? {
        guard let newest = runs.last, let host = newest.host else { return nil }
        var order: [String] = []
        var cases: [String: CaseResult] = [:]
        for run in runs {
            for item in run.caseResults where item.status == .ok {
                guard var pooled = cases[item.key] else {
                    order.append(item.key)
                    cases[item.key] = item
                    continue
                }
                for metric in item.metrics {
                    if let index = pooled.metrics.firstIndex(where: { $0.name == metric.name }) {
                        for sample in metric.samples { pooled.metrics[index].append(sample) }
                    } else {
                        pooled.metrics.append(metric)
                    }
                }
                cases[item.key] = pooled
            }
        }
        return ResultDocument(kvmbench: ToolInfo(version: newest.kvmbenchVersion, gitCommit: nil), host: host,
                              cases: order.compactMap { cases[$0] })
    }

    static func trend(of row: FleetMetric, runs: [RunRecord], recorded: [Int64: RecordedRun]) -> FleetTrend {
        var series: [FleetTrend.Series] = []
        for (position, run) in runs.enumerated() {
            guard let item = recorded[run.id]?.cases.first(where: { $0.caseKey == row.caseKey && $0.status == "ok" }),
                  let metric = item.metrics.first(where: { $0.name == row.metric }), let value = metric.median else { continue }
            let point = FleetTrend.Point(position: position + 1, runID: run.id, startedAt: run.startedAt, kernel: run.kernelRelease,
                                         median: value, low: metric.low, high: metric.high)
            if let index = series.firstIndex(where: { $0.host == run.hostKey }) {
                series[index].points.append(point)
            } else {
                series.append(.init(host: run.hostKey, points: [point]))
            }
        }
        return FleetTrend(caseKey: row.caseKey, metric: row.metric, unit: row.unit, better: row.better, series: series)
    }

    static func summary(of host: HostFingerprint?) -> String {
        guard let host else { return "fingerprint unreadable" }
        var parts = [host.cpuModel]
        if host.onlineCPUs > 0 { parts.append("\(host.onlineCPUs) CPUs") }
        if host.memTotalBytes > 0 { parts.append(String(format: "%.1f GiB", Double(host.memTotalBytes) / 1_073_741_824)) }
        if let mmu = host.mmu { parts.append(mmu.rawValue) }
        return parts.joined(separator: ", ")
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}
