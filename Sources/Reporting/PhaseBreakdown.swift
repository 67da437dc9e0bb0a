import Results

/// Where the time of a scenario's cases goes, phase by phase, for stacked bars: the time metrics
/// named "phase.*", or for dirty-logging its per-step "*_time" metrics.
struct PhaseBreakdown: Sendable {
    struct Segment: Sendable {
        /// The metric name, e.g. "phase.create_mappings".
        var metric: String
        var seconds: Double
    }

    struct Row: Sendable {
        var label: String
        var segments: [Segment]
        var total: Double { segments.reduce(0) { $0 + $1.seconds } }
    }

    var scenario: String
    /// Phase metric names in the order the phases run (first appearance in the cases).
    var phases: [String]
    var rows: [Row]

    /// True for a metric that is one phase of its scenario.
    static func isPhase(_ metric: Metric, scenario: String) -> Bool {
        guard UnitKind(metric.unit).isTime else { return false }
        if metric.name.hasPrefix("phase.") { return true }
        return scenario == "dirty-logging" && metric.name.hasSuffix("_time") && !metric.name.contains("total")
    }

    /// "phase.create_mappings" -> "create_mappings", "get_dirty_log_time" -> "get_dirty_log".
    static func phaseName(_ metric: String) -> String {
        var name = Substring(metric)
        if name.hasPrefix("phase.") { name = name.dropFirst("phase.".count) }
        if name.hasSuffix("_time") { name = name.dropLast("_time".count) }
        return String(name)
    }

    /// The breakdown of a scenario's measured cases, with a "before" row above each case that the
    /// comparison also has phase medians for; nil when fewer than two phases were measured.
    init?(scenario: String, cases: [CaseResult], comparisons: ComparisonIndex?) {
        let measured = cases.filter { $0.scenario == scenario && $0.status == .ok }
        var phases: [String] = []
        for item in measured {
            for metric in item.metrics where Self.isPhase(metric, scenario: scenario) && !phases.contains(metric.name) {
                phases.append(metric.name)
            }
        }
        guard phases.count >= 2 else { return nil }

        let phased = measured.filter { $0.metrics.contains { Self.isPhase($0, scenario: scenario) } }
        let differing = ParameterDisplay.differingKeys(phased.map(\.parameters))
        var rows: [Row] = []
        for item in phased {
            let label = differing.isEmpty ? ParameterDisplay.summary(item.parameters)
                : ParameterDisplay.summary(item.parameters, only: differing)
            let after = phases.compactMap { name -> Segment? in
                guard let metric = item.metric(named: name), let seconds = Self.seconds(metric.median, unit: metric.unit) else { return nil }
                return Segment(metric: name, seconds: seconds)
            }
            guard !after.isEmpty else { continue }
            let before = phases.compactMap { name -> Segment? in
                guard let compared = comparisons?[item.key, name],
                      let seconds = Self.seconds(compared.beforeMedian, unit: compared.unit) else { return nil }
                return Segment(metric: name, seconds: seconds)
            }
            if before.isEmpty {
                rows.append(Row(label: label, segments: after))
            } else {
                rows.append(Row(label: label + " · before", segments: before))
                rows.append(Row(label: label + " · after", segments: after))
            }
        }
        guard !rows.isEmpty else { return nil }
        self.scenario = scenario
        self.phases = phases
        self.rows = rows
    }

    private static func seconds(_ value: Double, unit: MetricUnit) -> Double? {
        guard case .time(let secondsPerUnit) = UnitKind(unit), value.isFinite, value >= 0 else { return nil }
        return value * secondsPerUnit
    }
}
