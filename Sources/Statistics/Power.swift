import Foundation

/// How small a change a before/after comparison can show, worked out before looking at the change.
///
/// Two things bound it:
/// - **The test's floor.** With m and n samples and no ties, the Mann-Whitney U statistic has
///   C(m + n, m) equally likely arrangements; the most extreme arrangement (every after sample past
///   every before sample) has two-sided p = 2 / C(m + n, m). When that is not below alpha, no change
///   of any size can be significant (3 against 3: p >= 0.10).
/// - **The spread.** The decision rule calls a change only when the whole (1 - alpha) interval of the
///   median ratio lies past 1 ± threshold. With relative robust spreads s1, s2 (1.4826 MAD / median,
///   a standard deviation for normal data) the log ratio of two medians has standard error
///   se = sqrt(pi / 2) * sqrt(s1² / m + s2² / n) (the median's asymptotic efficiency against the mean
///   is 2 / pi). A true change of threshold + (z(1 - alpha/2) + z(power)) * se clears that bar with
///   probability `power`: the smallest change detected with that probability ("minimum detectable
///   effect", Cohen's power analysis, with the threshold as the null's edge).
public enum Power {
    /// Power used for the detectable change when none is given.
    public static let defaultPower = 0.8

    /// The smallest two-sided Mann-Whitney p-value attainable with `m` and `n` tie-free samples:
    /// 2 / C(m + n, m), at most 1; 1 when a side is empty.
    public static func smallestPValue(_ m: Int, _ n: Int) -> Double {
        guard m > 0, n > 0 else { return 1 }
        return min(1, 2 / binomial(m + n, m))
    }

    /// The smallest number of samples per side (equal sides) for which a two-sided p below `alpha`
    /// can occur; nil above 1000 (alpha too small to be reached).
    public static func samplesNeeded(alpha: Double) -> Int? {
        (1...1000).first { smallestPValue($0, $0) < alpha }
    }

    /// The smallest samples per side (equal sides) for which the rule detects a relative change
    /// `change` with probability `power`, given relative spreads; nil when above `limit`.
    public static func samplesNeeded(toDetect change: Double, spread: Double, threshold: Double,
                                     alpha: Double, power: Double = defaultPower, limit: Int = 10_000) -> Int? {
        (2...max(2, limit)).first { n in
            guard smallestPValue(n, n) < alpha,
                  let detectable = detectableChange(beforeSpread: spread, afterSpread: spread, beforeCount: n,
                                                    afterCount: n, threshold: threshold, alpha: alpha, power: power)
            else { return false }
            return detectable <= change
        }
    }

    /// The smallest relative change (0.10 = 10%) the rule detects with probability `power`, from the
    /// samples' relative spreads and counts (see the type's documentation); nil when the test cannot
    /// reach `alpha` with these counts, a spread is not finite, or a side has fewer than 2 samples.
    public static func detectableChange(beforeSpread: Double, afterSpread: Double, beforeCount: Int,
                                        afterCount: Int, threshold: Double, alpha: Double,
                                        power: Double = defaultPower) -> Double? {
        guard beforeCount >= 2, afterCount >= 2, beforeSpread.isFinite, afterSpread.isFinite,
              smallestPValue(beforeCount, afterCount) < alpha else { return nil }
        let variance = beforeSpread * beforeSpread / Double(beforeCount) + afterSpread * afterSpread / Double(afterCount)
        let standardError = (Double.pi / 2 * variance).squareRoot()
        let z = Normal.quantile(1 - alpha / 2) + Normal.quantile(power)
        // The interval is on the ratio scale; exp turns a log-ratio distance back into a change.
        return (1 + threshold) * exp(z * standardError) - 1
    }

    /// C(n, k) as a Double (exact up to 2^53, then rounded).
    static func binomial(_ n: Int, _ k: Int) -> Double {
        guard k >= 0, k <= n else { return 0 }
        let k = min(k, n - k)
        var value = 1.0
        for i in stride(from: 0, to: k, by: 1) { value = value * Double(n - i) / Double(i + 1) }
        return value.rounded()
    }
}

/// The standard normal distribution.
public enum Normal {
    /// The p-quantile (inverse CDF, `scipy.stats.norm.ppf`): Acklam's rational approximation
    /// (relative error below 1.2e-9) refined by one Halley step on erfc; ±infinity at 0 and 1.
    public static func quantile(_ p: Double) -> Double {
        guard p > 0 else { return -.infinity }
        guard p < 1 else { return .infinity }
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                 -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let low = 0.02425
        var x: Double
        if p < low {
            let q = (-2 * log(p)).squareRoot()
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        } else if p <= 1 - low {
            let q = p - 0.5, r = q * q
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
                / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        } else {
            let q = (-2 * log(1 - p)).squareRoot()
            x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        let error = 0.5 * erfc(-x / 2.0.squareRoot()) - p
        let u = error * (2 * Double.pi).squareRoot() * exp(x * x / 2)
        x -= u / (1 + x * u / 2)
        return x
    }
}

/// Robust measures of spread: one outlier moves them little, unlike the standard deviation.
public enum Spread {
    /// The scale that makes the MAD a consistent estimate of the standard deviation for normal data
    /// (1 / Φ⁻¹(3/4); `scipy.stats.median_abs_deviation(scale="normal")`).
    public static let normalScale = 1.482602218505602

    /// The median absolute deviation from the median, times `normalScale`; 0 for fewer than 2 samples.
    public static func scaledMAD(of samples: [Double]) -> Double {
        guard samples.count >= 2 else { return 0 }
        let median = Summary.median(of: samples)
        return normalScale * Summary.median(of: samples.map { abs($0 - median) })
    }

    /// `scaledMAD` relative to |median| (a robust coefficient of variation); 0 when both are 0,
    /// infinity when only the median is.
    public static func relativeMAD(of samples: [Double]) -> Double {
        let mad = scaledMAD(of: samples), median = abs(Summary.median(of: samples))
        if mad == 0 { return 0 }
        return median == 0 ? .infinity : mad / median
    }
}
