import Harness
import Results

/// The metrics `dirty-logging` reports (its concurrent mode included), declared once. The
/// collection operations are get_dirty_log and clear_dirty_log (bitmap modes) or harvest and
/// reset_dirty_rings (ring mode); `<n>` is an iteration, from 1.
public struct DirtyLoggingMetrics: MetricDeclarations {
    public let populateTime = MetricDefinition.seconds("populate_time")
    public let enableDirtyLoggingTime = MetricDefinition.seconds("enable_dirty_logging_time")
    /// The mean over the iterations; the totals are the sums. The dirty pass from the vCPUs'
    /// release to the last one's sync exit: in ring mode it includes the ring-full handler the
    /// vCPU threads run in the middle of the pass (harvest, its lock, KVM_RESET_DIRTY_RINGS).
    public let iterationDirtyTime = MetricDefinition.seconds("iteration_dirty_time")
    /// Per iteration, the slowest vCPU's pass less the time its thread spent in the ring-full
    /// handler: the guest's writes and their faults alone (equal to the slowest vCPU's pass in the
    /// bitmap modes, which have no handler).
    public let iterationGuestDirtyTime = MetricDefinition.seconds("iteration_guest_dirty_time", gated: false)
    /// Per iteration, the time every vCPU thread together spent in the ring-full handler (ring mode).
    public let iterationRingFullTime = MetricDefinition.seconds("iteration_ring_full_time", gated: false)
    public let iterationDirtyTimeTotal = MetricDefinition.seconds("iteration_dirty_time_total", gated: false)
    public let verifyTime = MetricDefinition.seconds("verify_time", gated: false)
    public let verifyTimeTotal = MetricDefinition.seconds("verify_time_total", gated: false)
    public let dirtyPages = MetricDefinition.count("dirty_pages")
    public let writtenPages = MetricDefinition.count("written_pages")
    /// KVM page faults of the dirty passes per page written: about 1 when every logged write takes its fault.
    public let faultsPerPage = MetricDefinition.count("faults_per_page")
    public let ringFullExits = MetricDefinition.count("ring_full_exits")
    public let ringFullHandlerEntries = MetricDefinition.count("ring_full_handler_entries")
    public let ringFullHandlerTotal = MetricDefinition.seconds("ring_full_handler_total", gated: false)
    public let pages2MAfterPopulate = MetricDefinition.count("pages_2m_after_populate", better: .higher)
    public let pages2MAfterEnable = MetricDefinition.count("pages_2m_after_enable", better: .higher)
    public let pages2MAfterIterations = MetricDefinition.count("pages_2m_after_iterations", better: .higher)
    public let disableDirtyLoggingTime = MetricDefinition.seconds("disable_dirty_logging_time")
    public let rebuildTime = MetricDefinition.seconds("rebuild_time", gated: false)
    public let pages2MAfterDisable = MetricDefinition.count("pages_2m_after_disable", better: .higher)
    public let pages2MAfterRebuild = MetricDefinition.count("pages_2m_after_rebuild", better: .higher)

    // --concurrent: the vCPUs write while the host collects
    public let dirtyRate = MetricDefinition("dirty_rate", unit: .pagesPerSecond, better: .higher)
    public let harvestRate = MetricDefinition("harvest_rate", unit: .pagesPerSecond, better: .higher)
    public let harvestIterationsRate = MetricDefinition("harvest_iterations_rate", unit: .perSecond("iterations"), better: .higher)
    public let concurrentSeconds = MetricDefinition.seconds("concurrent_seconds", gated: false)
    public let concurrentPasses = MetricDefinition.count("concurrent_passes", better: .higher)
    public let concurrentHarvestIterations = MetricDefinition.count("concurrent_harvest_iterations", better: .higher)
    public let concurrentPagesHarvested = MetricDefinition.count("concurrent_pages_harvested", better: .higher)

    /// A collection operation's time per iteration ("get_dirty_log_time"), and summed ("..._time_total").
    public let operationTime = MetricFamily.seconds("<operation>_time")
    public let operationTimeTotal = MetricFamily.seconds("<operation>_time_total", gated: false)
    // Per iteration, never gated (the names do not end in "_time", which reports reserve for phases).
    public let iterationDirtyMemory = MetricFamily.seconds("iteration.<n>.dirty_memory", gated: false)
    public let iterationVerify = MetricFamily.seconds("iteration.<n>.verify", gated: false)
    public let iterationWrittenPages = MetricFamily.count("iteration.<n>.written_pages")
    public let iterationDirtyPages = MetricFamily.count("iteration.<n>.dirty_pages")
    public let iterationRingFullExits = MetricFamily.count("iteration.<n>.ring_full_exits")
    public let iterationOperation = MetricFamily.seconds("iteration.<n>.<operation>", gated: false)
}

extension DirtyLoggingScenario: DeclaresMetrics {
    public static let metrics = DirtyLoggingMetrics()
}
