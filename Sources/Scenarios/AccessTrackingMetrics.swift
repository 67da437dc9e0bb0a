import Results

/// The metrics `access-tracking` reports: none yet (only the probe is built; every case is
/// unsupported with the reason). The timed phases will be declared here.
public struct AccessTrackingMetrics: MetricDeclarations {}

extension AccessTrackingScenario: DeclaresMetrics {
    public static let metrics = AccessTrackingMetrics()
}
