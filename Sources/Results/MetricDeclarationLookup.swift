import Foundation

/// What kvmbench declares about the metrics result documents carry: their unit, which direction is
/// better and whether they gate. A comparison takes unit, polarity and gating from here, never from
/// the documents it judges: a result whose time metric claims `"better": "higher"` cannot turn a
/// slowdown into an improvement. Results cannot see the scenarios' declarations (they live above it),
/// so the layer that knows them (Suites, for compare, gate and the fleet) builds the lookup.
public struct MetricDeclarationLookup: Sendable {
    public enum Answer: Sendable, Equatable {
        /// The declaration of this metric of this scenario.
        case declared(MetricDefinition)
        /// The scenario is known but declares no metric of this name (and, for figures whose
        /// declaration follows their unit, this unit).
        case undeclared
        /// kvmbench has no scenario of this name.
        case unknownScenario
    }

    private let answer: @Sendable (_ scenario: String, _ parameters: [String: String], _ metric: String, _ unit: MetricUnit) -> Answer

    /// `answer(scenario, parameters, metric, unit)`: the unit is the document's, for declarations
    /// that follow the unit (a selftest's figures); every other answer must ignore it.
    public init(_ answer: @escaping @Sendable (_ scenario: String, _ parameters: [String: String], _ metric: String, _ unit: MetricUnit) -> Answer) {
        self.answer = answer
    }

    public func declaration(scenario: String, parameters: [String: String], metric: String, unit: MetricUnit) -> Answer {
        answer(scenario, parameters, metric, unit)
    }

    /// The declaration of `metric` of `item`, or nil when kvmbench declares none.
    public func declaration(of metric: Metric, in item: CaseResult) -> MetricDefinition? {
        if case .declared(let definition) = declaration(scenario: item.scenario, parameters: item.parameters,
                                                        metric: metric.name, unit: metric.unit) {
            return definition
        }
        return nil
    }

    /// Every metric of an ok case of `document` that disagrees with its declaration (unit or
    /// polarity), that its scenario does not declare, or whose scenario kvmbench does not know, one
    /// phrase each. A document's `gate` flags are not checked: gating is the declaration's and the
    /// suite's business, whatever the document says.
    public func conflicts(in document: ResultDocument) -> [String] { conflicts(in: document.cases) }

    /// `conflicts(in:)` of a document's cases.
    public func conflicts(in cases: [CaseResult]) -> [String] {
        var out: [String] = []
        for item in cases where item.status == .ok {
            for metric in item.metrics {
                switch declaration(scenario: item.scenario, parameters: item.parameters, metric: metric.name, unit: metric.unit) {
                case .unknownScenario:
                    out.append("case \(item.key) is of scenario \(item.scenario), which this kvmbench does not know")
                case .undeclared:
                    out.append("metric \(metric.name) (\(metric.unit.symbol)) of \(item.key) is not declared by scenario \(item.scenario)")
                case .declared(let definition):
                    if metric.unit != definition.unit || metric.better != definition.better {
                        out.append("metric \(metric.name) of \(item.key) says \(metric.unit.symbol), \(metric.better.rawValue) is better; "
                                   + "kvmbench declares \(definition.unit.symbol), \(definition.better.rawValue) is better")
                    }
                }
            }
        }
        return out
    }

    /// One line refusing `document` (named `label`) when it disagrees with the declarations, else nil.
    public func refusal(of document: ResultDocument, label: String) -> String? {
        refusal(of: document.cases, label: label)
    }

    /// `refusal(of:label:)` of a document's cases.
    public func refusal(of cases: [CaseResult], label: String) -> String? {
        let found = conflicts(in: cases)
        guard let first = found.first else { return nil }
        let more = found.count > 1 ? " (and \(found.count - 1) more)" : ""
        return "\(label): \(first)\(more); a document that disagrees with kvmbench's metric declarations is not judged (unit, polarity and gating come from the declarations)"
    }
}
