import Foundation

/// What the decision rule concluded about a before/after change (Results calls it `Verdict`).
public enum ChangeVerdict: String, Codable, Sendable, Equatable, CaseIterable {
    /// Significant, and the whole ratio interval is past the threshold in the good direction.
    case improved
    /// Significant, and the whole ratio interval is past the threshold in the bad direction.
    case regressed
    /// The whole ratio interval lies within 1 ± threshold: evidence that nothing changed by more.
    case unchanged
    /// The samples cannot tell: too few of them for the test to reach alpha, or an interval that
    /// straddles the threshold (the change may or may not be larger than it).
    case cannotDecide = "cannot-decide"
    /// No significance is possible at all (a reference side holds one published figure).
    case notSignificant = "not-significant"
    /// One side varies too much to decide anything.
    case noisy
}

/// The decision whether one metric changed between a before and an after set of samples.
///
/// The rule, in order:
/// 1. **noisy** when either side's robust spread, 1.4826 MAD / |median| (`Spread.relativeMAD`, a
///    coefficient of variation that one outlier cannot inflate), exceeds `maxCV`.
/// 2. **cannot-decide** with fewer than `minimumSamples` on a side; **unchanged** when every sample
///    on both sides is one and the same value; **cannot-decide** when even the most extreme
///    arrangement of these sample counts could not give a p-value below `alpha`
///    (`Power.smallestPValue`: 3 against 3 cannot go below 0.10).
/// 3. The change is *significant* when the two-sided Mann-Whitney U p-value (exact permutation
///    p-value, ties included, for small samples) is below `alpha` and the whole (1 - `alpha`)
///    percentile-bootstrap interval of median(after) / median(before) lies above 1 + `threshold` or
///    below 1 - `threshold`. A significant change is **regressed** when it goes the bad way for the
///    metric's polarity and **improved** when it goes the good way.
/// 4. **unchanged** when the whole interval lies within [1 - `threshold`, 1 + `threshold`].
/// 5. Otherwise **cannot-decide**: the interval straddles the threshold.
///
/// Every decision also says what the comparison could have detected: `smallestPValue` and
/// `detectableChange` (`Power.detectableChange`, the change caught with probability 0.8).
/// `change` is median(after) / median(before) - 1. Samples that are NaN or infinite cannot be decided.
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
    /// The smallest two-sided p-value these sample counts allow (2 / C(m + n, m)).
    public var smallestPValue: Double
    /// The smallest relative change the rule detects with probability 0.8 given these counts and
    /// spreads; nil when the test cannot reach alpha (no change is detectable).
    public var detectableChange: Double?
    /// Robust relative spread (1.4826 MAD / |median|) of each side.
    public var beforeSpread: Double
    public var afterSpread: Double
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
        verdict = .cannotDecide
        explanation = ""
        beforeSpread = Spread.relativeMAD(of: before)
        afterSpread = Spread.relativeMAD(of: after)
        smallestPValue = Power.smallestPValue(before.count, after.count)
        detectableChange = Power.detectableChange(beforeSpread: beforeSpread, afterSpread: afterSpread,
                                                  beforeCount: before.count, afterCount: after.count,
                                                  threshold: threshold, alpha: alpha)
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
        if beforeSpread > rule.maxCV || afterSpread > rule.maxCV {
            verdict = .noisy
            explanation = "too noisy: robust spread (1.4826 MAD / median) \(DecisionText.percent(beforeSpread)) before, "
                + "\(DecisionText.percent(afterSpread)) after (limit \(DecisionText.percent(rule.maxCV)))"
            return
        }
        let counts = "n=\(before.count) before, n=\(after.count) after"
        if before.count < rule.minimumSamples || after.count < rule.minimumSamples {
            explanation = "change \(DecisionText.signedPercent(change)), too few samples to test: \(counts), need \(rule.minimumSamples) per side"
            return
        }
        if Set(before + after).count == 1 {
            verdict = .unchanged
            pValue = 1
            ratioInterval = beforeMedian == 0 ? nil : [1, 1]
            explanation = "every sample on both sides is \(DecisionText.number(beforeMedian))"
            return
        }
        guard smallestPValue < rule.alpha else {
            let needed = Power.samplesNeeded(alpha: rule.alpha).map { ", needs \($0) per side" } ?? ""
            explanation = "change \(DecisionText.signedPercent(change)), but no change of any size can be shown: with \(counts) "
                + "the smallest possible p is \(DecisionText.number(smallestPValue)), not below alpha \(DecisionText.number(rule.alpha))\(needed)"
            return
        }
        test(before: before, after: after, rule: rule)
    }

    private mutating func test(before: [Double], after: [Double], rule: Rule) {
        let p = MannWhitneyU.test(before, after).pValue
        let interval = Bootstrap.ratioOfMedians(before: before, after: after, confidence: 1 - rule.alpha,
                                                resamples: rule.resamples, seed: rule.seed)
        pValue = p.isNaN ? nil : p
        ratioInterval = interval
        let changeText = "change \(DecisionText.signedPercent(change))"
        let evidence = "p = \(DecisionText.number(p)), ratio CI \(DecisionText.interval(interval))"
        let detectable = "detectable: \(detectableChange.map(DecisionText.percent) ?? "nothing")"
        if p < rule.alpha, let shift = Self.shift(of: interval, threshold: rule.threshold) {
            let goodDirection = (shift == .up) == (rule.better == .higher)
            verdict = goodDirection ? .improved : .regressed
            let bound = shift == .up ? "above \(DecisionText.number(1 + rule.threshold))"
                : "below \(DecisionText.number(1 - rule.threshold))"
            explanation = "\(changeText): \(evidence) entirely \(bound)"
        } else if let interval, let low = interval.first, let high = interval.last,
                  low >= 1 - rule.threshold, high <= 1 + rule.threshold {
            verdict = .unchanged
            explanation = "\(changeText): ratio CI \(DecisionText.interval(interval)) within 1 ± \(DecisionText.number(rule.threshold)) (p = \(DecisionText.number(p)))"
        } else {
            verdict = .cannotDecide
            let why = interval == nil ? "no ratio interval (a median is 0)"
                : "ratio CI \(DecisionText.interval(interval)) straddles 1 ± \(DecisionText.number(rule.threshold))"
            explanation = "\(changeText): \(why) (p = \(DecisionText.number(p)); \(detectable))"
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

    enum CodingKeys: String, CodingKey {
        case verdict, beforeMedian = "before_median", afterMedian = "after_median", change
        case pValue = "p_value", ratioInterval = "ratio_interval", smallestPValue = "smallest_p_value"
        case detectableChange = "detectable_change", beforeSpread = "before_spread", afterSpread = "after_spread"
        case explanation
    }
}
