import Results

/// What a report shows of a metric's samples: the median the document recorded, the extremes, and n.
struct SampleRange: Equatable, Sendable {
    var median: Double
    var min: Double
    var max: Double
    var count: Int

    /// Nil when the metric has no samples.
    init?(_ metric: Metric) {
        self.init(samples: metric.samples, median: metric.median)
    }

    /// Nil when there are no finite samples.
    init?(samples: [Double], median: Double) {
        let finite = samples.filter(\.isFinite)
        guard let low = finite.min(), let high = finite.max() else { return nil }
        self.median = median
        self.min = low
        self.max = high
        self.count = samples.count
    }
}
