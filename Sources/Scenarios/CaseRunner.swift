import Results

/// One measured value of one repetition.
public struct MetricSample: Sendable {
    public var name: String
    public var unit: String
    public var better: Polarity
    public var value: Double
    /// False for figures reported for insight but not gated on (e.g. counts).
    public var gate: Bool
    public init(_ name: String, _ value: Double, unit: String, better: Polarity, gate: Bool = true) {
        self.name = name
        self.unit = unit
        self.better = better
        self.value = value
        self.gate = gate
    }
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

    public mutating func add(_ name: String, _ value: Double, unit: String, better: Polarity, gate: Bool = true) {
        metrics.append(MetricSample(name, value, unit: unit, better: better, gate: gate))
    }
}
