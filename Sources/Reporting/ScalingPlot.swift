import Results

/// A scenario's headline metric against one numeric parameter (vCPUs, slots, memory per vCPU):
/// one series per group of cases that differ only in that parameter.
struct ScalingPlot: Sendable {
    struct Point: Sendable {
        var x: Double
        /// The parameter value as the result wrote it ("512M"), for tick labels.
        var xLabel: String
        var range: SampleRange
    }

    struct Series: Sendable {
        /// What sets this series apart from the others ("backing=hugetlb-2M"); empty when alone.
        var label: String
        var points: [Point]
    }

    var scenario: String
    var parameter: String
    var metric: String
    var unit: MetricUnit
    var better: Polarity
    var series: [Series]

    /// The parameters that can be swept, in the order their charts appear.
    static let sweepParameters = ["vcpus", "slots", "mem_per_vcpu"]

    /// Per scenario, the metrics worth plotting first; otherwise the first gated metric.
    static let preferredMetrics: [String: [String]] = [
        "demand-paging": ["demand_paging_rate", "first_touch_time"],
        "page-table": ["phase.create_mappings"],
        "dirty-logging": ["iteration_dirty_time", "get_dirty_log_time"],
        "memslots": ["map.average", "slot_setup_time"],
        "memslot-stress": ["delete_add_time"],
        "zap-all": ["delete_add_time"],
    ]

    /// True when a line of ideal linear scaling belongs on the chart: a rate against vCPUs.
    var showsIdeal: Bool { parameter == "vcpus" && UnitKind(unit).isRate }

    /// Every plot the cases of one scenario support: for each sweep parameter, the groups of at
    /// least two measured cases that differ only in it (and its derived `<name>_*` parameters).
    static func plots(scenario: String, cases: [CaseResult]) -> [ScalingPlot] {
        let measured = cases.filter { $0.scenario == scenario && $0.status == .ok }
        return sweepParameters.compactMap { plot(scenario: scenario, parameter: $0, cases: measured) }
    }

    private static func plot(scenario: String, parameter: String, cases: [CaseResult]) -> ScalingPlot? {
        var groups: [(key: [String: String], cases: [CaseResult])] = []
        for item in cases {
            guard let value = item.parameters[parameter], ParameterDisplay.numericValue(value) != nil else { continue }
            let key = item.parameters.filter { $0.key != parameter && !$0.key.hasPrefix(parameter + "_") }
            if let index = groups.firstIndex(where: { $0.key == key }) {
                groups[index].cases.append(item)
            } else {
                groups.append((key, [item]))
            }
        }
        groups.removeAll { Set($0.cases.compactMap { $0.parameters[parameter] }).count < 2 }
        guard let metric = headlineMetric(scenario: scenario, groups: groups.map(\.cases)) else { return nil }

        let labels = seriesLabels(groups.map(\.key))
        let series = zip(groups, labels).compactMap { group, label -> Series? in
            var seen: Set<Double> = []
            let points = group.cases.compactMap { item -> Point? in
                guard let text = item.parameters[parameter], let x = ParameterDisplay.numericValue(text),
                      let found = item.metric(named: metric.name), let range = SampleRange(found),
                      seen.insert(x).inserted else { return nil }
                return Point(x: x, xLabel: text, range: range)
            }.sorted { $0.x < $1.x }
            return points.count >= 2 ? Series(label: label, points: points) : nil
        }
        guard !series.isEmpty else { return nil }
        return ScalingPlot(scenario: scenario, parameter: parameter, metric: metric.name,
                           unit: metric.unit, better: metric.better, series: series)
    }

    /// The preferred metric measured in every case of some group, else the first gated metric
    /// (then the first metric) of a group that every case of that group has.
    private static func headlineMetric(scenario: String, groups: [[CaseResult]]) -> Metric? {
        func sharedMetrics(_ cases: [CaseResult]) -> [Metric] {
            guard let first = cases.first else { return [] }
            return first.metrics.filter { metric in
                cases.allSatisfy { $0.metric(named: metric.name)?.unit == metric.unit }
            }
        }
        let shared = groups.map(sharedMetrics)
        for name in preferredMetrics[scenario] ?? [] {
            if let metric = shared.lazy.compactMap({ $0.first { $0.name == name } }).first { return metric }
        }
        return shared.lazy.compactMap { $0.first(where: \.gate) ?? $0.first }.first
    }

    /// For each group key, the parameters whose values differ between groups ("backing=thp").
    private static func seriesLabels(_ keys: [[String: String]]) -> [String] {
        let differing = ParameterDisplay.differingKeys(keys)
        return keys.map { ParameterDisplay.summary($0, only: differing) }
    }
}
