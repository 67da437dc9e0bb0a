import Foundation
import Results
import Statistics

extension CaseResult {
    /// The note prefix of a metric too noisy to gate on.
    public static let noisyNotePrefix = "noisy: "

    /// Fills every metric's `summary` (median, min, max, mean, sd, CV, 95% bootstrap CI of the median)
    /// and adds a "noisy: ..." note for each gated metric whose robust spread (1.4826 MAD / median,
    /// `Spread.relativeMAD`) is above `maxCV`: the decision rule calls such a metric noisy.
    public mutating func summarise(maxCV: Double) {
        for index in metrics.indices {
            let summary = Summary(samples: metrics[index].samples)
            metrics[index].summary = summary
            let spread = Spread.relativeMAD(of: metrics[index].samples)
            guard metrics[index].gate, summary.count >= 2, spread > maxCV else { continue }
            let note = Self.noisyNotePrefix + "\(metrics[index].name) varies too much to gate on: robust spread "
                + String(format: "%.1f%%", spread * 100)
                + String(format: " > %.0f%%", maxCV * 100)
                + " over \(summary.count) repetitions (more repetitions or a quieter host)"
            if !notes.contains(note) { notes.append(note) }
        }
    }

    /// Gated metrics whose robust spread (1.4826 MAD / median) is above `maxCV`.
    public func noisyMetrics(maxCV: Double) -> [String] {
        metrics.filter { metric in
            metric.gate && metric.samples.count >= 2 && Spread.relativeMAD(of: metric.samples) > maxCV
        }.map(\.name)
    }
}
