import Results

/// One measured value of one repetition, of a declared metric.
public struct MetricSample: Sendable {
    public var metric: MetricDefinition
    public var value: Double
    public init(_ metric: MetricDefinition, _ value: Double) {
        self.metric = metric
        self.value = value
    }
    public var name: String { metric.name }
    public var unit: MetricUnit { metric.unit }
    public var better: Polarity { metric.better }
    /// False for figures reported for insight but not gated on (e.g. counts).
    public var gate: Bool { metric.gated }
}

/// Everything one repetition of a case measured.
public struct Sample: Sendable {
    public var metrics: [MetricSample] = []
    public var kvmStats: [String: Int64] = [:]
    /// How to read each of `kvmStats` (set with `setKVMStats`), instant values at both ends, histogram buckets.
    public var kvmStatTypes: [String: String]? = nil
    public var kvmStatsInstant: [String: InstantStat]? = nil
    public var kvmStatsHistograms: [String: [Int64]]? = nil
    public var phaseStats: [String: [String: Int64]]? = nil
    public var perVCPU: [[String: Double]]? = nil
    public var notes: [String] = []
    /// The CPU the measuring (main) thread was on when the repetition started and ended.
    public var measuringCPUs: [Int]? = nil
    /// Metrics of the whole case derived from every repetition: name -> the metric whose best
    /// sample (lowest or highest, as it is better) it takes (memslots' `<test>.best`).
    public var bestOfRepetitions: [String: String] = [:]
    /// Parameters the scenario decided while running (e.g. the effective slot count).
    public var extraParameters: [String: String] = [:]
    public init() {}

    /// Sets `kvmStats` and how to read each of them from a typed report.
    public mutating func setKVMStats(_ report: KVMStatsReport) {
        kvmStats = report.values
        kvmStatTypes = report.types
        kvmStatsInstant = report.instant.mapValues { InstantStat(before: $0.before, after: $0.after) }
        kvmStatsHistograms = report.histograms.isEmpty ? nil : report.histograms
    }

    /// Adds one value of `metric`: its name, unit, polarity and gating come from the declaration.
    public mutating func add(_ metric: MetricDefinition, _ value: Double) {
        metrics.append(MetricSample(metric, value))
    }
}
