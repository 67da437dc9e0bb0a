import Harness
import Results

/// The metrics `access-tracking` reports: the six timed phases (populate is informational, as the
/// selftest prints it but judges the rest), the aging pass's time, and the page counts the case is
/// checked against.
public struct AccessTrackingMetrics: MetricDeclarations {
    public let populateTime = MetricDefinition.seconds("populate_time", gated: false)
    public let writePopulatedTime = MetricDefinition.seconds("write_populated_time")
    public let readPopulatedTime = MetricDefinition.seconds("read_populated_time")
    public let writeIdleTime = MetricDefinition.seconds("write_idle_time")
    public let readIdleTime = MetricDefinition.seconds("read_idle_time")
    /// The aging pass that marks the guest's memory idle (MGLRU walks the memcg's page tables and
    /// KVM's clear_young clears the Accessed bits of its SPTEs).
    public let markIdleTime = MetricDefinition.seconds("mark_idle_time")
    public let agingTimePerPage = MetricDefinition("aging_time_per_page", unit: .nanoseconds, better: .lower, gated: false)
    public let idleCheckTime = MetricDefinition.seconds("idle_check_time", gated: false)
    public let pagesTouched = MetricDefinition.count("pages_touched")
    public let pagesYoungAtMark = MetricDefinition.count("pages_young_at_mark", better: .higher)
    public let pagesIdle = MetricDefinition.count("pages_idle", better: .higher)
    public let pagesYoungAfterWrite = MetricDefinition.count("pages_young_after_write", better: .higher)
    public let pagesYoungAfterRead = MetricDefinition.count("pages_young_after_read", better: .higher)
    public let ageNotifierCalls = MetricDefinition.count("age_notifier_calls")
    public let memcgPages = MetricDefinition.count("memcg_pages")
}

extension AccessTrackingScenario: DeclaresMetrics {
    public static let metrics = AccessTrackingMetrics()
}
