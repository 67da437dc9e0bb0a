import Harness
import Results

/// The metrics `mmu-stress` reports, declared once; `<operation>` is a host storm operation
/// (mprotect, discard, remap).
public struct MMUStressMetrics: MetricDeclarations {
    public let populateTime = MetricDefinition.seconds("populate_time", gated: false)
    public let latencyP50 = MetricFamily("<operation>_latency.p50", unit: .microseconds, better: .lower)
    public let latencyP90 = MetricFamily("<operation>_latency.p90", unit: .microseconds, better: .lower, gated: false)
    public let latencyP99 = MetricFamily("<operation>_latency.p99", unit: .microseconds, better: .lower, gated: false)
    public let latencyMax = MetricFamily("<operation>_latency.max", unit: .microseconds, better: .lower, gated: false)
    public let operations = MetricFamily.count("<operation>_ops", better: .higher)
    public let accessRateQuiet = MetricDefinition("access_rate_quiet", unit: .pagesPerSecond, better: .higher)
    public let accessRateStorm = MetricDefinition("access_rate_storm", unit: .pagesPerSecond, better: .higher)
    public let rateDrop = MetricDefinition("rate_drop", unit: .percent, better: .lower, gated: false)
    public let efaultRetries = MetricDefinition.count("efault_retries")
    public let readBackTime = MetricDefinition.seconds("read_back_time", gated: false)
    public let readBackChecks = MetricDefinition.count("read_back_checks", better: .higher)
    public let pagesVerified = MetricDefinition.count("pages_verified", better: .higher)
    public let checkpointDiscardRemapP50 = MetricDefinition("checkpoint_discard_remap.p50", unit: .microseconds, better: .lower, gated: false)
}

extension MMUStressScenario: DeclaresMetrics {
    public static let metrics = MMUStressMetrics()
}
