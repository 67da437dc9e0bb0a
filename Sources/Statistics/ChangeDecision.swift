import Foundation

/// What the decision rule concluded about a before/after change (Results calls it `Verdict`).
public enum ChangeVerdict: String, Codable, Sendable, Equatable, CaseIterable {
    /// Significant, and the whole ratio interval is past the threshold in the good direction.
    case improved
    /// Significant, and the whole ratio interval is past the threshold in the bad direction.
    case regressed
    /// The change of the medians is within the threshold.
    case unchanged
    /// The change looks larger than the threshold, but the samples do not show it is real.
    case notSignificant = "not-significant"
    /// One side varies too much to decide anything.
    case noisy
}

/// The decision whether one metric changed between a before and an after set of samples.
///
/// The rule, in order:
/// 1. **noisy** when either side's coefficient of variation (sample sd / |mean|) exceeds `maxCV`.
/// 2. With fewer than `minimumSamples` on a side: **unchanged** when both sides have at least one
///    sample and |change| <= `threshold`, otherwise **not-significant** ("too few samples").
/// 3. The change is *significant* when the two-sided Mann-Whitney U p-value is below `alpha` and the
///    whole (1 - `alpha`) percentile-bootstrap interval of median(after) / median(before) lies above
///    1 + `threshold` or below 1 - `threshold`. A significant change is **regressed** when it goes the
///    bad way for the metric's polarity (lower-is-better: a ratio above 1 + `threshold`;
///    higher-is-better: below 1 - `threshold`) and **improved** when it goes the good way.
/// 4. Otherwise **unchanged** when |change| <= `threshold`, else **not-significant**.
///
/// `change` is median(after) / median(before) - 1. Identical samples without spread are unchanged
/// (CV 0, change 0, p = 1). Samples that are NaN or infinite make the verdict not-significant.
public struct ChangeDecision: Codable, Sendable, Equatable {
    public var verdict: ChangeVerdict
    public var beforeMedian: Double
    public var afterMedian: Double
    /// median(after) / median(before) - 1: +0.10 means the after median is 10% larger. 0 when both
    /// medians are 0, ±infinity when only the before median is, NaN when a side has no samples.
    public var change: Double
    /// Two-sided Mann-Whitney U p-value; nil when the rule stopped before testing.
    public var pValue: Double?
    /// Bootstrap interval `[low, high]` of median(after) / median(before); nil when the rule stopped
    /// before testing or a median is 0.
    public var ratioInterval: [Double]?
    /// Why the verdict is what it is, in one sentence.
    public var explanation: String

    /// Applies the rule above to `before` and `after` for a metric whose good direction is `better`.
    /// `threshold` is relative (0.05 = 5%); `resamples` and `seed` drive the bootstrap.
    public init(before: [Double], after: [Double], better: Polarity, threshold: Double = 0.05,
                alpha: Double = 0.05, maxCV: Double = 0.30, minimumSamples: Int = 3,
                resamples: Int = Bootstrap.defaultResamples, seed: UInt64 = Bootstrap.defaultSeed) {
        beforeMedian = Summary.median(of: before)
        afterMedian = Summary.median(of: after)
        change = Self.relativeChange(from: beforeMedian, to: afterMedian)
        verdict = .notSignificant
        explanation = ""
        let rule = Rule(better: better, threshold: threshold, alpha: alpha, maxCV: maxCV,
                        minimumSamples: minimumSamples, resamples: resamples, seed: seed)
        decide(before: before, after: after, rule: rule)
    }

    private struct Rule {
        var better: Polarity
        var threshold: Double
        var alpha: Double
        var maxCV: Double
        var minimumSamples: Int
        var resamples: Int
        var seed: UInt64
    }

    private mutating func decide(before: [Double], after: [Double], rule: Rule) {
        guard (before + after).allSatisfy(\.isFinite) else {
            explanation = "some samples are NaN or infinite"
            return
        }
        let cv = (before: Self.coefficientOfVariation(before), after: Self.coefficientOfVariation(after))
        if cv.before > rule.maxCV || cv.after > rule.maxCV {
            verdict = .noisy
            explanation = "too noisy: CV \(Self.percent(cv.before)) before, \(Self.percent(cv.after)) after "
                + "(limit \(Self.percent(rule.maxCV)))"
            return
        }
        let withinThreshold = abs(change) <= rule.threshold
        if before.count < rule.minimumSamples || after.count < rule.minimumSamples {
            let counts = "n=\(before.count) before, n=\(after.count) after, need \(rule.minimumSamples) per side"
            if !before.isEmpty, !after.isEmpty, withinThreshold {
                verdict = .unchanged
                explanation = "change \(Self.signedPercent(change)) within ±\(Self.percent(rule.threshold)) "
                    + "(too few samples to test: \(counts))"
            } else {
                explanation = "too few samples: \(counts)"
            }
            return
        }
        test(before: before, after: after, rule: rule, withinThreshold: withinThreshold)
    }

    private mutating func test(before: [Double], after: [Double], rule: Rule, withinThreshold: Bool) {
        let p = MannWhitneyU.test(before, after).pValue
        let interval = Bootstrap.ratioOfMedians(before: before, after: after, confidence: 1 - rule.alpha,
                                                resamples: rule.resamples, seed: rule.seed)
        pValue = p.isNaN ? nil : p
        ratioInterval = interval
        let shift = Self.shift(of: interval, threshold: rule.threshold)
        let changeText = "change \(Self.signedPercent(change))"
        let evidence = "p = \(Self.number(p)), ratio CI \(Self.describe(interval))"
        if p < rule.alpha, let shift {
            let goodDirection = (shift == .up) == (rule.better == .higher)
            verdict = goodDirection ? .improved : .regressed
            let bound = shift == .up ? "above \(Self.number(1 + rule.threshold))"
                : "below \(Self.number(1 - rule.threshold))"
            explanation = "\(changeText): \(evidence) entirely \(bound)"
        } else if withinThreshold {
            verdict = .unchanged
            explanation = "\(changeText) within ±\(Self.percent(rule.threshold)) (\(evidence))"
        } else {
            verdict = .notSignificant
            let weak = if !(p < rule.alpha) {
                "p = \(Self.number(p)) is not below \(Self.number(rule.alpha))"
            } else if interval == nil {
                "no ratio interval (a median is 0)"
            } else {
                "ratio CI \(Self.describe(interval)) reaches within ±\(Self.percent(rule.threshold))"
            }
            explanation = "\(changeText) beyond ±\(Self.percent(rule.threshold)) but not shown: \(weak)"
        }
    }

    /// Which way an interval of ratios lies entirely past 1 ± threshold, if it does.
    private enum Shift { case up, down }

    private static func shift(of interval: [Double]?, threshold: Double) -> Shift? {
        guard let interval, let low = interval.first, let high = interval.last else { return nil }
        if low > 1 + threshold { return .up }
        if high < 1 - threshold { return .down }
        return nil
    }

    static func relativeChange(from before: Double, to after: Double) -> Double {
        if before == 0, after == 0 { return 0 }
        return after / before - 1
    }

    private static func coefficientOfVariation(_ samples: [Double]) -> Double {
        Summary(samples: samples, resamples: 0).coefficientOfVariation
    }

    private static func percent(_ fraction: Double) -> String {
        String(format: "%.1f%%", fraction * 100)
    }

    private static func signedPercent(_ fraction: Double) -> String {
        String(format: "%+.1f%%", fraction * 100)
    }

    private static func number(_ value: Double) -> String {
        String(format: "%.3g", value)
    }

    private static func describe(_ interval: [Double]?) -> String {
        guard let interval, let low = interval.first, let high = interval.last else { return "unavailable" }
        return String(format: "[%.3f, %.3f]", low, high)
    }

    enum CodingKeys: String, CodingKey {
        case verdict, beforeMedian = "before_median", afterMedian = "after_median", change
        case pValue = "p_value", ratioInterval = "ratio_interval", explanation
    }
}
