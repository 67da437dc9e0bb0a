import Harness
import Results

/// The metrics `page-table` reports, declared once; `<phase>` is create, update or rebuild.
public struct PageTableMetrics: MetricDeclarations {
    /// The three timed phases, from the release of the vCPUs to the last one's sync exit.
    public let createMappingsTime = MetricDefinition.seconds("create_mappings_time")
    public let updateMappingsTime = MetricDefinition.seconds("update_mappings_time")
    public let rebuildBlocksTime = MetricDefinition.seconds("rebuild_blocks_time")
    /// The slowest vCPU of a phase.
    public let vcpuTimeMax = MetricFamily.seconds("<phase>_vcpu_time_max", gated: false)
    public let enableDirtyLogTime = MetricDefinition.seconds("enable_dirty_log_time")
    public let disableDirtyLogTime = MetricDefinition.seconds("disable_dirty_log_time")
}

extension PageTableScenario: DeclaresMetrics {
    public static let metrics = PageTableMetrics()
}
