import Results
import Selftests

/// The metrics `selftest` reports, declared once: the wall time kvmbench measures, and the figures
/// the selftest prints, named, unit and polarity as `SelftestParser` reads them.
public struct SelftestMetrics: MetricDeclarations {
    /// Gated only for a selftest that times nothing itself (`SelftestKind.timesNothing`).
    public let wallTime = MetricDefinition.seconds("wall_time")

    /// A figure the selftest printed.
    public func figure(_ figure: SelftestFigure) -> MetricDefinition {
        MetricDefinition(figure.name, unit: figure.unit, better: figure.better, gated: figure.gate)
    }
}

extension SelftestScenario: DeclaresMetrics {
    public static let metrics = SelftestMetrics()
}
