import Harness
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

extension SelftestMetrics {
    /// The declaration of a selftest case's metric `name` as recorded in `unit`, for the binary
    /// `test` (the case's `test` parameter). A selftest's figures are named after its own words,
    /// so they are declared by the rule `SelftestParser` follows rather than one by one: `wall_time`
    /// (gated only for a test that times nothing itself), `<test>.iterations` (a count, higher,
    /// not gated), `<test>.slot_setup_time` (seconds, not gated), every other figure in seconds
    /// (lower is better) or pages/s (higher), gated. Any other unit is not declared.
    public func declaration(of name: String, unit: MetricUnit, test: String?) -> MetricDefinition? {
        if name == wallTime.name {
            let timesNothing = test.flatMap { SelftestKind(path: $0) }?.timesNothing ?? false
            return timesNothing ? wallTime : wallTime.informational
        }
        if name.hasSuffix(".iterations") { return .count(name, better: .higher) }
        if name.hasSuffix(".slot_setup_time") { return .seconds(name, gated: false) }
        switch unit {
        case .seconds: return .seconds(name)
        case .pagesPerSecond: return MetricDefinition(name, unit: .pagesPerSecond, better: .higher)
        default: return nil
        }
    }
}
