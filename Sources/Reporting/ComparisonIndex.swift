import Results

/// The metric comparisons of a `DocumentComparison`, looked up by case key and metric name.
struct ComparisonIndex: Sendable {
    private var entries: [String: [String: MetricComparison]] = [:]

    init(_ comparison: DocumentComparison) {
        for metric in comparison.metrics {
            entries[metric.caseKey, default: [:]][metric.metric] = metric
        }
    }

    subscript(caseKey: String, metric: String) -> MetricComparison? {
        entries[caseKey]?[metric]
    }

    /// True when any metric of the case was compared.
    func contains(caseKey: String) -> Bool { entries[caseKey] != nil }
}
