import Foundation
import Results

/// Bencher Metric Format (BMF) JSON: `{ benchmark: { measure: { value, lower_value, upper_value } } }`.
/// A benchmark is a case (`scenario[key=value,...]`), a measure one of its gated metrics, the value
/// its median and the bounds its interval. Cases without numbers are left out: BMF has no status.
public enum BencherMetricFormat {
    public static func render(_ figures: [FleetFigure]) throws -> Data {
        var benchmarks: [String: [String: Measure]] = [:]
        for figure in figures {
            guard let metric = figure.metric, let value = figure.value, value.isFinite else { continue }
            benchmarks[figure.caseKey, default: [:]][metric] = Measure(
                value: value,
                lower_value: figure.low.flatMap { $0.isFinite ? $0 : nil },
                upper_value: figure.high.flatMap { $0.isFinite ? $0 : nil })
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(benchmarks)
    }

    struct Measure: Encodable { var value: Double; var lower_value: Double?; var upper_value: Double? }
}
