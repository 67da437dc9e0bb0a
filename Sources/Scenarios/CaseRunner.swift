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
    public var phaseStats: [String: [String: Int64]]? = nil
    public var perVCPU: [[String: Double]]? = nil
    public var notes: [String] = []
    /// Parameters the scenario decided while running (e.g. the effective slot count).
    public var extraParameters: [String: String] = [:]
    public init() {}

    public mutating func add(_ name: String, _ value: Double, unit: String, better: Polarity, gate: Bool = true) {
        metrics.append(MetricSample(name, value, unit: unit, better: better, gate: gate))
    }
}
