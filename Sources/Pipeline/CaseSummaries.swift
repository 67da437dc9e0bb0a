import Foundation
import Results
import Statistics

extension CaseResult {
    /// The note prefix of a metric too noisy to gate on.
    public static let noisyNotePrefix = "noisy: "

    /// Fills every metric's `summary` (median, min, max, mean, sd, CV, 95% bootstrap CI of the median)
    /// and adds a "noisy: ..." note for each gated metric whose coefficient of variation is above
    /// `maxCV`: the gate's decision rule calls such a metric noisy and does not gate on it.
    public mutating func summarise(maxCV: Double) {
        for index in metrics.indices {
            let summary = Summary(samples: metrics[index].samples)
            metrics[index].summary = summary
            guard metrics[index].gate, summary.count >= 2, summary.coefficientOfVariation > maxCV else { continue }
            let note = Self.noisyNotePrefix + "\(metrics[index].name) varies too much to gate on: CV "
                + String(format: "%.1f%%", summary.coefficientOfVariation * 100)
                + String(format: " > %.0f%%", maxCV * 100)
                + " over \(summary.count) repetitions (more repetitions or a quieter host)"
            if !notes.contains(note) { notes.append(note) }
        }
    }

    /// Gated metrics whose CV is above `maxCV`.
    public func noisyMetrics(maxCV: Double) -> [String] {
        metrics.filter { metric in
            guard metric.gate, metric.samples.count >= 2 else { return false }
            let summary = metric.summary ?? Summary(samples: metric.samples, resamples: 0)
            return summary.coefficientOfVariation > maxCV
        }.map(\.name)
    }
}
