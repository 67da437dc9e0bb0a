import Foundation

/// The gate's verdict about one case of a comparison: computed once (`DocumentComparison.judgements`)
/// and rendered by every output, so that no renderer can show green where the gate fails.
public enum CaseVerdict: String, Codable, Sendable, Equatable, CaseIterable {
    /// The case failed in the judged result (guest crash, failed check, KVM error): gate exit 3.
    case failed
    /// A gated metric regressed significantly: gate exit 2.
    case regressed
    /// The baseline measured the case (or a gated metric of it) and the result lacks it: exit 2.
    case missing
    /// The baseline measured the case and the result's host could not run it: exit 2.
    case newlyUnsupported = "newly-unsupported"
    /// A gated metric could not be decided (noisy, too few samples, an interval across the
    /// threshold): no regression shown, none ruled out; gate exit 5.
    case inconclusive
    /// Every gated metric unchanged or improved.
    case passed
    /// Compared, but no metric of the case gates.
    case notGated = "not-gated"
    /// Nothing to judge: unsupported on both sides or in the baseline, failed in the baseline
    /// only, or a case the baseline does not have.
    case skipped

    /// True for the verdicts that fail the gate (exit 2 or 3).
    public var failsGate: Bool { [.failed, .regressed, .missing, .newlyUnsupported].contains(self) }

    /// Most serious first: the order in which a case's verdict is chosen.
    public var severity: Int { Self.allCases.firstIndex(of: self)! }

    /// "newly unsupported".
    public var label: String { rawValue.replacingOccurrences(of: "-", with: " ") }
}

/// What the gate concludes about one compared metric.
public enum MetricGateVerdict: String, Sendable, Equatable {
    /// Gated and significantly regressed.
    case regressed
    /// Gated and not decided (noisy, cannot decide, not significant).
    case inconclusive
    /// Gated, unchanged or improved.
    case passed
    /// Not gated: shown for insight, never fails or passes anything.
    case notGated = "not-gated"
}

extension MetricComparison {
    public var gateVerdict: MetricGateVerdict {
        guard gate else { return .notGated }
        switch verdict {
        case .regressed: return .regressed
        case .improved, .unchanged: return .passed
        case .noisy, .cannotDecide, .notSignificant: return .inconclusive
        }
    }
}

/// A gated metric the baseline measured in a case measured on both sides, which the result lacks
/// (or holds without samples): the gate fails on it like a regression.
public struct MissingMetric: Codable, Sendable, Equatable {
    public var caseKey: String
    public var scenario: String
    public var parameters: [String: String]
    public var metric: String
    public var reason: String
    public init(caseKey: String, scenario: String, parameters: [String: String], metric: String, reason: String) {
        self.caseKey = caseKey
        self.scenario = scenario
        self.parameters = parameters
        self.metric = metric
        self.reason = reason
    }
    enum CodingKeys: String, CodingKey { case caseKey = "case_key", scenario, parameters, metric, reason }
}

/// The gate's verdict of one case with what it rests on.
public struct CaseJudgement: Sendable, Equatable {
    public var caseKey: String
    public var scenario: String
    public var parameters: [String: String]
    public var verdict: CaseVerdict
    /// One sentence: why (the uncompared case's reason, the gated metrics that regressed or could
    /// not be decided, the metrics missing).
    public var reason: String
    /// The case's compared metrics (gated and not), in comparison order.
    public var metrics: [MetricComparison]
    /// Gated metrics of the baseline the result lacks.
    public var missingMetrics: [MissingMetric]
}

extension UncomparedCase {
    /// The gate's verdict: as computed by the comparison, else (a comparison read from an older
    /// kvmbench's JSON) the most serious one its kind allows.
    public var caseVerdict: CaseVerdict {
        if let verdict { return verdict }
        switch kind {
        case "failed": return .failed
        case "only-before": return .missing
        case "unsupported": return .newlyUnsupported
        default: return .skipped
        }
    }
}

extension DocumentComparison {
    /// Every case of the comparison with the gate's verdict: the compared cases in the order of
    /// their metrics, then the cases that could not be compared.
    public var judgements: [CaseJudgement] {
        var order: [String] = []
        var byKey: [String: CaseJudgement] = [:]
        func slot(_ key: String, _ scenario: String, _ parameters: [String: String]) {
            if byKey[key] == nil {
                order.append(key)
                byKey[key] = CaseJudgement(caseKey: key, scenario: scenario, parameters: parameters, verdict: .notGated,
                                           reason: "", metrics: [], missingMetrics: [])
            }
        }
        for metric in metrics {
            slot(metric.caseKey, metric.scenario, metric.parameters)
            byKey[metric.caseKey]!.metrics.append(metric)
        }
        for missing in missingMetrics {
            slot(missing.caseKey, missing.scenario, missing.parameters)
            byKey[missing.caseKey]!.missingMetrics.append(missing)
        }
        var out: [CaseJudgement] = order.map { key in
            var item = byKey[key]!
            let regressed = item.metrics.filter { $0.gateVerdict == .regressed }.map(\.metric)
            let undecided = item.metrics.filter { $0.gateVerdict == .inconclusive }.map(\.metric)
            let passed = item.metrics.filter { $0.gateVerdict == .passed }
            if !regressed.isEmpty {
                item.verdict = .regressed
                item.reason = "gated metric(s) regressed: " + regressed.joined(separator: ", ")
            } else if !item.missingMetrics.isEmpty {
                item.verdict = .missing
                item.reason = item.missingMetrics.map(\.reason).joined(separator: "; ")
            } else if !undecided.isEmpty {
                item.verdict = .inconclusive
                item.reason = "gated metric(s) not decided: " + undecided.joined(separator: ", ")
            } else if !passed.isEmpty {
                item.verdict = .passed
                item.reason = "every gated metric unchanged or improved"
            } else {
                item.reason = "no gated metric"
            }
            return item
        }
        out += uncompared.map { item in
            CaseJudgement(caseKey: item.caseKey, scenario: item.scenario, parameters: item.parameters,
                          verdict: item.caseVerdict, reason: "\(item.kind): \(item.reason)", metrics: [], missingMetrics: [])
        }
        return out
    }

    /// The most serious case verdict (`passed` for a comparison without cases).
    public var worstVerdict: CaseVerdict {
        judgements.map(\.verdict).min { $0.severity < $1.severity } ?? .passed
    }
}
