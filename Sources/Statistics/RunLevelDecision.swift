import Foundation

/// The decision whether a new run of a case differs from the earlier runs of that case on the same
/// host, with the **run** as the unit of replication.
///
/// The repetitions of one run are not independent samples of a kernel's speed: they share the CPU
/// each thread landed on, the state of host memory and what ran before. So the model is a one-way
/// random-effects model on the log scale. Run r's median of a metric is
///
///     y_r = log(median_r) = μ + b_r + e_r,    b_r ~ N(0, σ_b²),    e_r ~ N(0, σ_w² / n)
///
/// where b_r is what the run's repetitions share and the next run does not (the between-run part)
/// and e_r the noise of a median of n repetitions (the within-run part). One run's repetitions
/// estimate σ_w only; a run median varies by τ² = σ_b² + σ_w² / n, which only earlier runs estimate:
/// s² is the sample variance of the K earlier y_r. With nothing changed, the new run's
/// y₀ - ȳ ~ N(0, τ² (1 + 1/K)), so
///
///     t = (y₀ - ȳ) / (s √(1 + 1/K))   ~   Student t, K - 1 degrees of freedom
///
/// (the prediction interval for one new observation). Values that are not all positive are taken on
/// the linear scale relative to |ȳ| instead of the log scale.
///
/// The rule, in order:
/// 1. **collecting** (`isCollecting`, verdict cannot-decide) with fewer than `minimumRuns` earlier
///    runs: no estimate of the between-run spread yet.
/// 2. **noisy** when the new run's own repetitions spread more than `maxCV` (robust spread).
/// 3. *Significant* when the two-sided p of t is below alpha (the caller may replace p with a
///    multiplicity-adjusted one, see `Holm`, and call `decide(p:)` again). A significant change past
///    the threshold (the point estimate, as asv's "factor and significance") is **regressed** in the
///    bad direction of `better` and **improved** in the good one.
/// 4. **unchanged** when the whole (1 - alpha) prediction interval of the ratio new / typical lies
///    within [1 - threshold, 1 + threshold]: a change of the threshold's size is ruled out.
/// 5. Otherwise **cannot-decide**: the between-run spread is too large for this many runs to rule a
///    threshold-sized change in or out.
///
/// **A night with more repetitions than its history's runs** (`gate --budget` adds them while a
/// metric is undecided). With n repetitions per earlier run and n₀ > n tonight, the night's median
/// varies by σ_b² + σ_w² / n₀ rather than τ². σ_w² / n is estimated from the night's own
/// repetitions (`withinRunSpread`² · n₀ / n, at most s²), σ_b² as s² - σ_w² / n, and
///
///     t = (y₀ - ȳ) / √(s² / K + σ_b² + σ_w² / n₀)
///
/// with K - 1 degrees of freedom as before (s² still carries them). With n₀ = n this is the rule
/// above; it shrinks toward √(s²/K + σ_b²) as n₀ grows, so more repetitions decide a metric whose
/// runs vary mostly within themselves and do nothing for one whose runs vary as wholes.
///
/// `runsNeeded` is the fewest earlier runs with which, at this spread, an unchanged run would be
/// called unchanged (t(1 - alpha/2, N - 1) · s · √(1 + 1/N) ≤ log(1 + threshold)): how long a host
/// must collect history before the gate can decide this metric.
public struct RunLevelDecision: Sendable, Equatable {
    /// Earlier runs with which no between-run spread is estimated (two degrees of freedom at least).
    public static let defaultMinimumRuns = 3

    public var verdict: ChangeVerdict
    /// The typical earlier run: the exponential of the mean log run median (a geometric mean).
    public var beforeMedian: Double
    /// The new run's median.
    public var afterMedian: Double
    /// afterMedian / beforeMedian - 1.
    public var change: Double
    /// Two-sided p of the prediction t statistic (before any adjustment); nil while collecting.
    public var pValue: Double?
    /// The (1 - alpha) prediction interval of new / typical; nil while collecting.
    public var ratioInterval: [Double]?
    /// The change detected with probability `Power.defaultPower` at this spread and run count.
    public var detectableChange: Double?
    /// Earlier runs the decision used.
    public var runs: Int
    /// s: the standard deviation of the earlier runs' log medians (τ's estimate), as a relative spread.
    public var runSpread: Double?
    /// σ_w / √n: the within-run part of `runSpread`, from the new run's own repetitions.
    public var withinRunSpread: Double
    /// σ_b: the between-run part, √max(0, s² - σ_w² / n); nil while collecting.
    public var betweenRunSpread: Double?
    /// The fewest earlier runs that let an unchanged run be called unchanged at this spread (see the
    /// type); nil when no run count up to `runLimit` does, or while collecting.
    public var runsNeeded: Int?
    /// Robust spread of the new run's repetitions (1.4826 MAD / |median|).
    public var afterSpread: Double
    public var explanation: String

    private let rule: Rule

    public var isCollecting: Bool { runs < rule.minimumRuns }

    private struct Rule: Sendable, Equatable {
        var better: Polarity
        var threshold: Double
        var alpha: Double
        var maxCV: Double
        var minimumRuns: Int
        var shift: Double
        var standardError: Double
    }

    /// Decides `after` (the new run's repetitions) against `runMedians` (one median per earlier run).
    /// `runLimit` bounds `runsNeeded` (the history the gate pools at most).
    /// `historyRepetitions`: the measured repetitions of each earlier run, when `after` may have more
    /// (see the type); nil: as many as `after`.
    public init(runMedians: [Double], after: [Double], better: Polarity, threshold: Double, alpha: Double = 0.05,
                maxCV: Double = 0.30, minimumRuns: Int = defaultMinimumRuns, runLimit: Int = 1000,
                historyRepetitions: Int? = nil) {
        let values = runMedians.filter(\.isFinite)
        runs = values.count
        afterMedian = Summary.median(of: after)
        afterSpread = Spread.relativeMAD(of: after)
        withinRunSpread = after.count > 1 ? (Double.pi / 2).squareRoot() * afterSpread / Double(after.count).squareRoot() : 0
        let positive = (values + [afterMedian]).allSatisfy { $0 > 0 }
        let scaled = Self.scale(values, positive: positive, reference: values)
        let mean = scaled.isEmpty ? .nan : scaled.reduce(0, +) / Double(scaled.count)
        beforeMedian = positive ? exp(mean) : Self.mean(values)
        change = ChangeDecision.relativeChange(from: beforeMedian, to: afterMedian)
        verdict = .cannotDecide
        explanation = ""
        let spread = scaled.count >= 2 ? Self.standardDeviation(scaled, mean: mean) : Double.nan
        // The within-run variance of one earlier run's median, and the new run's.
        let nightCount = Double(after.count)
        let historyCount = Double(historyRepetitions.map { max(1, $0) } ?? after.count)
        // The within-run part of an earlier run's median, from tonight's repetitions, can be no
        // more than the earlier medians' whole spread (the rest is the between-run part); tonight's
        // is that part at tonight's count. So an extended night is never judged less precise
        // than a plain one.
        let withinHistory = spread.isFinite
            ? min(spread * spread, withinRunSpread * withinRunSpread * nightCount / historyCount) : 0
        let withinNight = withinHistory * historyCount / max(1, nightCount)
        let between = spread.isFinite ? max(0, spread * spread - withinHistory) : .nan
        let extended = nightCount > historyCount
        // The standard error of y₀ - ȳ with `runs` earlier runs.
        let standardErrorWith: (Double) -> Double = { runs in
            extended ? (spread * spread / runs + between + withinNight).squareRoot()
                     : spread * (1 + 1 / runs).squareRoot()
        }
        let standardError = standardErrorWith(Double(max(1, scaled.count)))
        let newValue = Self.scale([afterMedian], positive: positive, reference: values).first ?? .nan
        rule = Rule(better: better, threshold: threshold, alpha: alpha, maxCV: maxCV,
                    minimumRuns: max(2, minimumRuns), shift: newValue - mean, standardError: standardError)
        guard values.count >= rule.minimumRuns else {
            explanation = "collecting history: \(values.count) of at least \(rule.minimumRuns) earlier runs on this host; no verdict yet"
            return
        }
        runSpread = spread
        betweenRunSpread = between.squareRoot()
        let df = Double(values.count - 1)
        let limit = log(1 + threshold)
        runsNeeded = Self.fewestRuns(from: rule.minimumRuns, to: max(rule.minimumRuns, runLimit)) { n in
            StudentT.quantile(1 - alpha / 2, degreesOfFreedom: Double(n - 1)) * standardErrorWith(Double(n)) <= limit
        }
        let power = StudentT.quantile(Power.defaultPower, degreesOfFreedom: df)
        let critical = StudentT.quantile(1 - alpha / 2, degreesOfFreedom: df)
        detectableChange = exp(max(limit + power * standardError, (critical + power) * standardError)) - 1
        guard afterMedian.isFinite, mean.isFinite else {
            explanation = "the new run has no finite median"
            return
        }
        if afterSpread > maxCV {
            verdict = .noisy
            explanation = "too noisy: this run's robust spread is \(DecisionText.percent(afterSpread)) (limit \(DecisionText.percent(maxCV)))"
            return
        }
        let t = standardError > 0 ? rule.shift / standardError : (rule.shift == 0 ? 0 : .infinity)
        let p = t == 0 ? 1 : StudentT.twoSidedP(t: t, degreesOfFreedom: df)
        pValue = p
        let half = critical * standardError
        ratioInterval = [rule.shift - half, rule.shift + half].map { positive ? exp($0) : 1 + $0 }
        decide(p: p)
    }

    /// Applies steps 3 to 5 of the rule with `p` (for example a Holm-adjusted p) in place of the raw
    /// p-value; the verdict of a collecting, noisy or undecidable metric stays as it is.
    public mutating func decide(p: Double) {
        guard !isCollecting, verdict != .noisy, let interval = ratioInterval, let raw = pValue else { return }
        let threshold = rule.threshold
        let adjusted = p == raw ? "" : " (adjusted \(DecisionText.number(p)))"
        let evidence = "p = \(DecisionText.number(raw))\(adjusted) over \(runs) earlier runs (run spread \(DecisionText.percent(runSpread ?? 0))), "
            + "prediction interval \(DecisionText.interval(interval))"
        let changeText = "change \(DecisionText.signedPercent(change)) from the typical run"
        let up = change > threshold, down = change < -threshold
        if p < rule.alpha, up || down {
            let goodDirection = up == (rule.better == .higher)
            verdict = goodDirection ? .improved : .regressed
            explanation = "\(changeText), past the \(DecisionText.percent(threshold)) threshold: \(evidence)"
        } else if interval[0] >= 1 - threshold, interval[1] <= 1 + threshold {
            verdict = .unchanged
            explanation = "\(changeText): \(evidence) within 1 ± \(DecisionText.number(threshold))"
        } else {
            verdict = .cannotDecide
            let needed = runsNeeded.map { "\($0) earlier runs would rule it in or out at this spread" }
                ?? "no history this host keeps is enough at this spread"
            explanation = "\(changeText): \(evidence) straddles 1 ± \(DecisionText.number(threshold)); "
                + "detectable \(detectableChange.map(DecisionText.percent) ?? "nothing"); \(needed)"
        }
    }

    /// The smallest n in `low...high` for which `enough(n)` holds, for a condition that, once true,
    /// stays true as n grows (the prediction half-width falls with n); nil when it fails at `high`.
    static func fewestRuns(from low: Int, to high: Int, _ enough: (Int) -> Bool) -> Int? {
        guard enough(high) else { return nil }
        var (low, high) = (low, high)
        while low < high {
            let middle = (low + high) / 2
            if enough(middle) { high = middle } else { low = middle + 1 }
        }
        return low
    }

    static func scale(_ values: [Double], positive: Bool, reference: [Double]) -> [Double] {
        if positive { return values.map { log($0) } }
        let typical = abs(mean(reference))
        return values.map { typical > 0 ? $0 / typical : $0 }
    }

    static func mean(_ values: [Double]) -> Double {
        values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
    }

    static func standardDeviation(_ values: [Double], mean: Double) -> Double {
        (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)).squareRoot()
    }
}

extension StudentT {
    /// The p-quantile of Student's t with `df` degrees of freedom (`scipy.stats.t.ppf`), by bisection
    /// on `twoSidedP`; accurate to ~1e-12.
    public static func quantile(_ p: Double, degreesOfFreedom df: Double) -> Double {
        guard p > 0, p < 1, df > 0 else { return p >= 1 ? .infinity : (p <= 0 ? -.infinity : .nan) }
        if p == 0.5 { return 0 }
        let tail = p > 0.5 ? 1 - p : p
        // P(T >= t) = twoSidedP(t) / 2 falls from 1/2 as t grows.
        var low = 0.0, high = 1.0
        while twoSidedP(t: high, degreesOfFreedom: df) / 2 > tail { high *= 2 }
        for _ in 0..<200 {
            let middle = (low + high) / 2
            if twoSidedP(t: middle, degreesOfFreedom: df) / 2 > tail { low = middle } else { high = middle }
            if high - low < 1e-13 * max(1, high) { break }
        }
        let t = (low + high) / 2
        return p > 0.5 ? t : -t
    }
}

/// Holm's step-down correction: the family-wise false-alarm rate of m tests stays at alpha.
public enum Holm {
    /// Holm-adjusted p-values in the order given (`statsmodels.stats.multitest.multipletests(p,
    /// method="holm")`): sorted ascending, the i-th (from 0) is max over j ≤ i of min(1, (m - j) p_j).
    public static func adjusted(_ pValues: [Double]) -> [Double] {
        let m = pValues.count
        let order = pValues.indices.sorted { pValues[$0] < pValues[$1] }
        var adjusted = [Double](repeating: 1, count: m)
        var running = 0.0
        for (rank, index) in order.enumerated() {
            running = max(running, min(1, Double(m - rank) * pValues[index]))
            adjusted[index] = running
        }
        return adjusted
    }
}
