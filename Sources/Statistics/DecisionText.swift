import Foundation

/// How the decision rules (`ChangeDecision`, `RunLevelDecision`, `PairedRoundsDecision`) write figures into their
/// explanations: one style, so a reader sees the same "+12.3%" and "[0.981, 1.042]" everywhere.
enum DecisionText {
    static func percent(_ fraction: Double) -> String { String(format: "%.1f%%", fraction * 100) }

    static func signedPercent(_ fraction: Double) -> String { String(format: "%+.1f%%", fraction * 100) }

    static func number(_ value: Double) -> String { String(format: "%.3g", value) }

    /// "[low, high]" of a ratio interval, or "unavailable".
    static func interval(_ interval: [Double]?) -> String {
        guard let interval, let low = interval.first, let high = interval.last else { return "unavailable" }
        return String(format: "[%.3f, %.3f]", low, high)
    }
}

/// What every decision rule gives a comparison of one metric: the verdict, the medians it compared,
/// the change, its test's p and interval, what it could detect, and why, in words.
public protocol MetricDecision: Sendable {
    var verdict: ChangeVerdict { get }
    var beforeMedian: Double { get }
    var afterMedian: Double { get }
    var change: Double { get }
    var pValue: Double? { get }
    var ratioInterval: [Double]? { get }
    var detectableChange: Double? { get }
    var explanation: String { get }
}

extension RunLevelDecision: MetricDecision {}
extension PairedRoundsDecision: MetricDecision {}
