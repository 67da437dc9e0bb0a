import Harness
import Results

/// The metrics `zap-all` reports, declared once; `<trigger>` is a `ZapTrigger` ("unrelated-slot", ...),
/// each figure the mean over the trigger's runs in one repetition.
public struct ZapAllMetrics: MetricDeclarations {
    public let populateTime = MetricDefinition.seconds("populate_time", gated: false)
    public let triggerTime = MetricFamily.seconds("<trigger>.trigger_time")
    public let triggerTimeMin = MetricFamily.seconds("<trigger>.trigger_time_min", gated: false)
    public let refaultTime = MetricFamily.seconds("<trigger>.refault_time")
    public let deleteTime = MetricFamily.seconds("<trigger>.delete_time", gated: false)
    public let createTime = MetricFamily.seconds("<trigger>.create_time", gated: false)
    public let disableTime = MetricFamily.seconds("<trigger>.disable_time", gated: false)
    public let mappingsBefore = MetricFamily.count("<trigger>.mappings_before", better: .higher)
    public let mappingsAfter = MetricFamily.count("<trigger>.mappings_after")
    /// mmu_shadow_zapped: counted by the shadow MMU only (0 on a TDP MMU whatever was zapped).
    public let shadowZapped = MetricFamily.count("<trigger>.shadow_zapped")
}

extension ZapAllScenario: DeclaresMetrics {
    public static let metrics = ZapAllMetrics()
}
