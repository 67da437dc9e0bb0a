import Foundation
@_exported import Statistics

/// Whether a case produced numbers.
public enum CaseStatus: String, Codable, Sendable, Equatable {
    /// Measured; `metrics` holds its samples.
    case ok
    /// The host cannot run it (missing capability, no hugepages); `reason` says why.
    case unsupported
    /// It started and went wrong (guest crash, watchdog, failed correctness check); `reason` says how.
    case failed
}

/// One scenario run with one set of parameters, repeated `repetitions` times.
public struct CaseResult: Codable, Sendable, Equatable {
    public var scenario: String
    /// Every parameter that shaped the case, as the user would write it on the command line
    /// (`vcpus: "4"`, `backing: "anonymous-4k"`). Two cases with equal parameters are comparable.
    public var parameters: [String: String]
    public var status: CaseStatus
    public var reason: String?
    public var metrics: [Metric]
    /// KVM binary-stats deltas over the measured part of the case (name -> delta), from the last repetition.
    public var kvmStats: [String: Int64]
    /// Each stat's KVM type ("cumulative", "instant", "peak", "linear-hist", "log-hist"), which
    /// says how to read its `kvmStats` number: a delta, after - before, the peak over the case
    /// (the highest of any vCPU), or the events a histogram counted. Nil in older documents.
    public var kvmStatTypes: [String: String]?
    /// Instant stats (pages_4k, ...) at the start and end of the measured part.
    public var kvmStatsInstant: [String: InstantStat]?
    /// Histogram stats as the change of each bucket.
    public var kvmStatsHistograms: [String: [Int64]]?
    /// Named groups of KVM stats deltas (for example one per phase), from the last repetition.
    public var phaseStats: [String: [String: Int64]]?
    /// Per-vCPU figures, one entry per vCPU, from the last repetition (metric name -> value).
    public var perVCPU: [[String: Double]]?
    /// Free-form remarks a reader should see beside the numbers (e.g. "slots capped at 32763").
    public var notes: [String]
    /// Per measured repetition, the CPUs the measuring (main) thread was on when the repetition
    /// started and when it ended: the thread that builds the guest and issues the memslot and
    /// dirty-log ioctls. Nil in documents written before it was recorded.
    public var measuringCPUs: [[Int]]?
    /// Set while the case runs, and kept when it was cut short (SIGKILL, OOM killer, crash): how
    /// many of its planned repetitions finished; `metrics` holds exactly those. Nil for a case that
    /// ran to its end (and in documents written before it existed).
    public var interrupted: CaseInterruption?

    public init(scenario: String, parameters: [String: String], status: CaseStatus = .ok,
                reason: String? = nil, metrics: [Metric] = [], kvmStats: [String: Int64] = [:],
                phaseStats: [String: [String: Int64]]? = nil, perVCPU: [[String: Double]]? = nil,
                notes: [String] = []) {
        self.scenario = scenario
        self.parameters = parameters
        self.status = status
        self.reason = reason
        self.metrics = metrics
        self.kvmStats = kvmStats
        self.phaseStats = phaseStats
        self.perVCPU = perVCPU
        self.notes = notes
    }

    /// A stable identity for matching the same case across two documents.
    public var key: String {
        scenario + "[" + parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            .joined(separator: ",") + "]"
    }

    public func metric(named name: String) -> Metric? { metrics.first { $0.name == name } }

    enum CodingKeys: String, CodingKey {
        case scenario, parameters, status, reason, metrics
        case kvmStats = "kvm_stats", phaseStats = "phase_stats", perVCPU = "per_vcpu", notes, interrupted
        case measuringCPUs = "measuring_cpus"
        case kvmStatTypes = "kvm_stat_types", kvmStatsInstant = "kvm_stats_instant", kvmStatsHistograms = "kvm_stats_histograms"
    }
}

/// An instant KVM stat at both ends of a case's measured part.
public struct InstantStat: Codable, Sendable, Equatable {
    public var before: Int64
    public var after: Int64
    public init(before: Int64, after: Int64) {
        self.before = before
        self.after = after
    }
}

/// How far a case got before it was cut short.
public struct CaseInterruption: Codable, Sendable, Equatable {
    public var repetitionsCompleted: Int
    public var repetitionsPlanned: Int
    public init(repetitionsCompleted: Int, repetitionsPlanned: Int) {
        self.repetitionsCompleted = repetitionsCompleted
        self.repetitionsPlanned = repetitionsPlanned
    }
    enum CodingKeys: String, CodingKey {
        case repetitionsCompleted = "repetitions_completed", repetitionsPlanned = "repetitions_planned"
    }
}

/// One measured quantity of a case: every sample (one per repetition) and its median.
public struct Metric: Codable, Sendable, Equatable {
    public var name: String
    /// Unit of every sample; documents write its symbol ("s", "us", "pages/s", "count", "%").
    public var unit: MetricUnit
    public var better: Polarity
    public var samples: [Double]
    public var median: Double
    /// True when the metric takes part in regression gating.
    public var gate: Bool
    /// Descriptive statistics of `samples` (median, min, max, mean, sd, CV, bootstrap CI of the
    /// median), filled in when the case is recorded; nil in documents written before it existed.
    public var summary: Summary?

    public init(name: String, unit: MetricUnit, better: Polarity, samples: [Double], gate: Bool = true) {
        self.name = name
        self.unit = unit
        self.better = better
        self.samples = samples
        self.median = Self.median(of: samples)
        self.gate = gate
    }

    /// A metric of `definition` (its name, unit, polarity and gating) with these samples.
    public init(_ definition: MetricDefinition, samples: [Double]) {
        self.init(name: definition.name, unit: definition.unit, better: definition.better, samples: samples,
                  gate: definition.gated)
    }

    public mutating func append(_ sample: Double) {
        samples.append(sample)
        median = Self.median(of: samples)
        summary = nil
    }

    static func median(of values: [Double]) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
}
