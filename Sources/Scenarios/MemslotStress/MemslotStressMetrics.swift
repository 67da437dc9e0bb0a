import Harness
import Results

/// The metrics `memslot-stress` reports, declared once; `<ioctl>` is "add" or "delete".
public struct MemslotStressMetrics: MetricDeclarations {
    public let accessRateQuiet = MetricDefinition("access_rate_quiet", unit: .pagesPerSecond, better: .higher)
    public let accessRateUnderChurn = MetricDefinition("access_rate_under_churn", unit: .pagesPerSecond, better: .higher)
    /// How much slower the guest's access is under slot churn, in % of the quiet rate.
    public let rateDrop = MetricDefinition("rate_drop", unit: .percent, better: .lower)
    public let churnTime = MetricDefinition.seconds("churn_time", gated: false)
    public let passesUnderChurn = MetricDefinition.count("passes_under_churn", better: .higher)
    public let passesQuiet = MetricDefinition.count("passes_quiet", better: .higher)
    /// Latency percentiles of each KVM_SET_USER_MEMORY_REGION kind.
    public let latencyP50 = MetricFamily("<ioctl>_latency.p50", unit: .microseconds, better: .lower)
    public let latencyP90 = MetricFamily("<ioctl>_latency.p90", unit: .microseconds, better: .lower)
    public let latencyP99 = MetricFamily("<ioctl>_latency.p99", unit: .microseconds, better: .lower)
    public let latencyMax = MetricFamily("<ioctl>_latency.max", unit: .microseconds, better: .lower, gated: false)
    public let latencyMin = MetricFamily("<ioctl>_latency.min", unit: .microseconds, better: .lower, gated: false)
}

extension MemslotStressScenario: DeclaresMetrics {
    public static let metrics = MemslotStressMetrics()
}
