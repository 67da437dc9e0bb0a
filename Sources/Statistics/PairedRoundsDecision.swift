import Foundation

/// The decision whether side B differs from side A when both ran in the same boot, in rounds of
/// two adjacent blocks (A then B, or B then A): `kvmbench ab`.
///
/// A round's two blocks run minutes apart at most and share what drifts slowly on a host (memory
/// freshness, neighbours, the CPUs threads landed on); rounds do not. So the unit is the round and
/// the test is paired: with a_r and b_r the medians of round r's blocks,
///
///     d_r = log(b_r / a_r),   t = mean(d) / (sd(d) / √R)   ~   Student t, R - 1 degrees of freedom
///
/// (scipy's `ttest_rel` on the log medians). Drift between rounds cancels in each d_r; what is left
/// is the A/B difference and the noise between two adjacent blocks. Log, because MMU changes scale
/// times (and the thresholds are ratios). A t-test, not Wilcoxon's signed-rank test: with R < 6
/// rounds the signed-rank test cannot reach p < 0.05 at all (two-sided), and a kernel developer runs
/// 3 to 8 rounds. Values that are not all positive are differenced on the linear scale relative to
/// |mean(a)| instead.
///
/// The rule is `RunLevelDecision`'s: significant (p < alpha, or a Holm-adjusted p via `decide(p:)`)
/// and past the threshold is regressed or improved by `better`; a (1 - alpha) interval of B / A
/// inside [1 - threshold, 1 + threshold] is unchanged; otherwise cannot-decide, with the rounds that
/// would decide it at this spread.
public struct PairedRoundsDecision: Sendable, Equatable {
    /// Rounds with which no spread of the differences is estimated.
    public static let minimumRounds = 2

    public var verdict: ChangeVerdict
    /// Side A's typical block: the geometric mean of its round medians.
    public var beforeMedian: Double
    /// Side B's, likewise.
    public var afterMedian: Double
    /// exp(mean(d)) - 1: B against A, paired.
    public var change: Double
    /// Two-sided p of the paired t statistic (before any adjustment); nil below `minimumRounds`.
    public var pValue: Double?
    /// The (1 - alpha) confidence interval of B / A.
    public var ratioInterval: [Double]?
    /// The change detected with probability `Power.defaultPower` at this spread and round count.
    public var detectableChange: Double?
    /// Rounds used.
    public var rounds: Int
    /// sd(d): how much the B/A ratio varies from round to round.
    public var roundSpread: Double?
    /// The fewest rounds with which an unchanged B would be called unchanged at this spread; nil
    /// when none up to `roundLimit` would.
    public var roundsNeeded: Int?
    public var explanation: String

    private let rule: Rule

    private struct Rule: Sendable, Equatable {
        var better: Polarity
        var threshold: Double
        var alpha: Double
        var positive: Bool
    }

    /// Decides B against A from their round medians, `a[r]` and `b[r]` measured in round r.
    public init(a: [Double], b: [Double], better: Polarity, threshold: Double, alpha: Double = 0.05, roundLimit: Int = 50) {
        let pairs = zip(a, b).filter { $0.0.isFinite && $0.1.isFinite }
        rounds = pairs.count
        let positive = pairs.allSatisfy { $0.0 > 0 && $0.1 > 0 }
        let meanA = pairs.isEmpty ? Double.nan : pairs.reduce(0) { $0 + $1.0 } / Double(pairs.count)
        let differences = pairs.map { positive ? log($0.1 / $0.0) : ($0.1 - $0.0) / abs(meanA) }
        beforeMedian = positive ? exp(pairs.reduce(0) { $0 + log($1.0) } / Double(max(1, pairs.count))) : meanA
        afterMedian = positive ? exp(pairs.reduce(0) { $0 + log($1.1) } / Double(max(1, pairs.count)))
            : pairs.reduce(0) { $0 + $1.1 } / Double(max(1, pairs.count))
        let meanD = differences.isEmpty ? Double.nan : differences.reduce(0, +) / Double(differences.count)
        change = positive ? exp(meanD) - 1 : meanD
        verdict = .cannotDecide
        explanation = ""
        rule = Rule(better: better, threshold: threshold, alpha: alpha, positive: positive)
        guard rounds >= Self.minimumRounds, meanD.isFinite else {
            explanation = "\(rounds) round(s): at least \(Self.minimumRounds) are needed for a paired test"
            return
        }
        let spread = RunLevelDecision.standardDeviation(differences, mean: meanD)
        roundSpread = spread
        let df = Double(rounds - 1)
        let standardError = spread / Double(rounds).squareRoot()
        let limit = positive ? log(1 + threshold) : threshold
        roundsNeeded = RunLevelDecision.fewestRuns(from: Self.minimumRounds, to: max(Self.minimumRounds, roundLimit)) { n in
            StudentT.quantile(1 - alpha / 2, degreesOfFreedom: Double(n - 1)) * spread / Double(n).squareRoot() <= limit
        }
        let critical = StudentT.quantile(1 - alpha / 2, degreesOfFreedom: df)
        let power = StudentT.quantile(Power.defaultPower, degreesOfFreedom: df)
        let detectable = max(limit + power * standardError, (critical + power) * standardError)
        detectableChange = positive ? exp(detectable) - 1 : detectable
        let t = standardError > 0 ? meanD / standardError : (meanD == 0 ? 0 : .infinity)
        let p = t == 0 ? 1 : StudentT.twoSidedP(t: t, degreesOfFreedom: df)
        pValue = p
        let half = critical * standardError
        ratioInterval = [meanD - half, meanD + half].map { positive ? exp($0) : 1 + $0 }
        decide(p: p)
    }

    /// Applies the rule with `p` (for example a Holm-adjusted p) in place of the raw p-value.
    public mutating func decide(p: Double) {
        guard let interval = ratioInterval, let raw = pValue else { return }
        let threshold = rule.threshold
        let adjusted = p == raw ? "" : " (adjusted \(DecisionText.number(p)))"
        let evidence = "paired t over \(rounds) rounds: p = \(DecisionText.number(raw))\(adjusted), "
            + "B/A \(DecisionText.interval(interval)) (round-to-round spread \(DecisionText.percent(roundSpread ?? 0)))"
        let changeText = "B \(DecisionText.signedPercent(change)) against A"
        let up = change > threshold, down = change < -threshold
        if p < rule.alpha, up || down {
            verdict = up == (rule.better == .higher) ? .improved : .regressed
            explanation = "\(changeText), past the \(DecisionText.percent(threshold)) threshold: \(evidence)"
        } else if interval[0] >= 1 - threshold, interval[1] <= 1 + threshold {
            verdict = .unchanged
            explanation = "\(changeText): \(evidence) within 1 ± \(DecisionText.number(threshold))"
        } else {
            verdict = .cannotDecide
            let needed = roundsNeeded.map { "\($0) rounds would rule it in or out at this spread" }
                ?? "no number of rounds up to the limit would at this spread"
            explanation = "\(changeText): \(evidence) straddles 1 ± \(DecisionText.number(threshold)); "
                + "detectable \(detectableChange.map(DecisionText.percent) ?? "nothing"); \(needed)"
        }
    }
}
