import Foundation

/// The outcome of a Mann-Whitney U test.
public struct MannWhitneyResult: Codable, Sendable, Equatable {
    /// How the p-value was computed.
    public enum Method: String, Codable, Sendable, Equatable {
        /// From the exact permutation distribution of U given the pooled (mid)ranks: every split of
        /// the pooled samples into sides of m and n equally likely (small samples, ties or not).
        case exact
        /// From the normal approximation with tie and continuity corrections.
        case asymptotic
    }

    /// U of the first sample: the number of pairs (a, b) with a > b, ties counting one half
    /// (scipy's `statistic`, R1 - n1(n1 + 1)/2 with R1 the first sample's rank sum).
    public var statistic: Double
    /// Two-sided p-value; NaN when either sample is empty.
    public var pValue: Double
    public var method: Method

    public init(statistic: Double, pValue: Double, method: Method) {
        self.statistic = statistic
        self.pValue = pValue
        self.method = method
    }
}

/// The two-sided Mann-Whitney U (Wilcoxon rank-sum) test of whether two samples come from the same
/// distribution, without assuming normality. Matches `scipy.stats.mannwhitneyu(a, b,
/// alternative="two-sided", use_continuity=True)` with `method="exact"` (no ties) or
/// `method="asymptotic"`; with ties, the exact p-value is the permutation test's,
/// `scipy.stats.permutation_test((a, b), U, permutation_type="independent", n_resamples=inf)`:
/// two-sided p = min(1, 2 min(P(U <= u), P(U >= u))) over all C(m + n, m) splits of the pooled
/// samples. (scipy's own `mannwhitneyu(method="exact")` ignores ties: [1, 1, 1] vs [2, 2, 2] gets
/// the permutation p of 0.10 here, where the tie-corrected normal approximation says 0.047.)
public enum MannWhitneyU {
    /// The largest n * m for which the exact distribution is used (covers 50 samples per side).
    public static let exactLimit = 2_500

    /// Tests `a` against `b`. The p-value is exact (permutation distribution, ties included) when
    /// `a.count * b.count <= exactLimit`, and asymptotic otherwise; `method` overrides that choice.
    public static func test(_ a: [Double], _ b: [Double],
                            method: MannWhitneyResult.Method? = nil) -> MannWhitneyResult {
        let (m, n) = (a.count, b.count)
        guard m > 0, n > 0 else { return MannWhitneyResult(statistic: 0, pValue: .nan, method: .asymptotic) }
        let (ranks, tieSizes) = averageRanks(of: a + b)
        let u = ranks[..<m].reduce(0, +) - Double(m * (m + 1)) / 2
        let uMax = max(u, Double(m * n) - u)
        let hasTies = tieSizes.contains { $0 > 1 }
        let chosen = method ?? (m * n <= exactLimit ? .exact : .asymptotic)
        let p = switch chosen {
        case .exact where hasTies: permutationPValue(ranks: ranks, m: m)
        case .exact: 2 * exactSurvival(atLeast: Int(uMax.rounded()), m, n)
        case .asymptotic: 2 * asymptoticSurvival(uMax, m, n, tieSizes: tieSizes)
        }
        return MannWhitneyResult(statistic: u, pValue: min(max(p, 0), 1), method: chosen)
    }

    /// Ranks 1...count of `values`, ties getting the mean of their ranks (scipy's `rankdata`
    /// "average"), and the size of every group of equal values.
    static func averageRanks(of values: [Double]) -> (ranks: [Double], tieSizes: [Int]) {
        let order = values.indices.sorted { values[$0] < values[$1] }
        var ranks = [Double](repeating: 0, count: values.count)
        var tieSizes: [Int] = []
        var start = 0
        while start < order.count {
            var end = start + 1
            while end < order.count, values[order[end]] == values[order[start]] { end += 1 }
            let rank = Double(start + end + 1) / 2
            for position in start..<end { ranks[order[position]] = rank }
            tieSizes.append(end - start)
            start = end
        }
        return (ranks, tieSizes)
    }

    /// The two-sided permutation p-value of the first `m` of `ranks` (midranks of the pooled samples):
    /// min(1, 2 min(P(S <= s), P(S >= s))) for the rank sum S of a random m-subset, s the observed
    /// one. Doubled midranks are integers, so the distribution is counted exactly by dynamic
    /// programming over (subset size, doubled sum) instead of enumerating C(m + n, m) subsets.
    static func permutationPValue(ranks: [Double], m: Int) -> Double {
        let doubled = ranks.map { Int(($0 * 2).rounded()) }
        let observed = doubled[..<m].reduce(0, +)
        let total = doubled.reduce(0, +)
        // ways[k * width + s]: how many k-subsets of the ranks seen so far have doubled sum s. One
        // flat array, plain loops and sums bounded by the ranks seen so far (every larger sum is
        // unreachable, its count 0): the same additions in the same order as the nested-array
        // version, without the row copies and stride iterators that dominated a debug build.
        let width = total + 1
        var ways = [Double](repeating: 0, count: (m + 1) * width)
        ways[0] = 1
        var reachable = 0
        for (index, rank) in doubled.enumerated() {
            reachable += rank
            var k = min(m, index + 1)
            while k >= 1 {
                let row = k * width, previousRow = row - width
                var sum = reachable
                while sum >= rank {
                    let previous = ways[previousRow + sum - rank]
                    if previous != 0 { ways[row + sum] += previous }
                    sum -= 1
                }
                k -= 1
            }
        }
        let counts = Array(ways[(m * width)...])
        let all = counts.reduce(0, +)
        let atMost = counts[...observed].reduce(0, +), atLeast = counts[observed...].reduce(0, +)
        return min(1, 2 * min(atMost, atLeast) / all)
    }

    /// P(U >= u) under the null hypothesis, from the exact distribution (no ties).
    static func exactSurvival(atLeast u: Int, _ m: Int, _ n: Int) -> Double {
        let pmf = nullDistribution(m, n)
        guard u < pmf.count else { return 0 }
        // Add the smallest terms first: the tail is where the precision matters.
        return pmf[max(u, 0)...].reversed().reduce(0, +)
    }

    /// The probability of every U = 0...m*n when both samples come from one continuous distribution.
    /// Recurrence on the largest of the m + n values: it belongs to the first sample with probability
    /// m / (m + n), adding n to U, and to the second otherwise, adding nothing:
    /// p(m, n; u) = m/(m+n) p(m-1, n; u-n) + n/(m+n) p(m, n-1; u). Probabilities rather than counts keep
    /// every term positive and in range.
    static func nullDistribution(_ m: Int, _ n: Int) -> [Double] {
        let (small, large) = (min(m, n), max(m, n))  // U has the same distribution for (m, n) and (n, m)
        // previous[j] is p(i - 1, j; .) for j = 0...large.
        var previous = [[Double]](repeating: [1], count: large + 1)
        for i in stride(from: 1, through: small, by: 1) {
            var current: [[Double]] = [[1]]
            for j in stride(from: 1, through: large, by: 1) {
                let total = Double(i + j)
                let fromFirst = previous[j], fromSecond = current[j - 1]
                var row = [Double](repeating: 0, count: i * j + 1)
                for u in row.indices {
                    let first = u >= j && u - j < fromFirst.count ? fromFirst[u - j] : 0
                    let second = u < fromSecond.count ? fromSecond[u] : 0
                    row[u] = Double(i) / total * first + Double(j) / total * second
                }
                current.append(row)
            }
            previous = current
        }
        return previous[large]
    }

    /// P(U >= u) under the null hypothesis, from the normal approximation: mean m*n/2, variance
    /// m*n/12 * ((N + 1) - sum(t^3 - t) / (N(N - 1))) over the tie groups t, and a continuity
    /// correction of 1/2 (scipy's `_get_mwu_z`). 1 when every value is tied.
    static func asymptoticSurvival(_ u: Double, _ m: Int, _ n: Int, tieSizes: [Int]) -> Double {
        let (mn, total) = (Double(m * n), Double(m + n))
        let tieTerm = tieSizes.reduce(0.0) { sum, t in let t = Double(t); return sum + t * t * t - t }
        let variance = mn / 12 * ((total + 1) - tieTerm / (total * (total - 1)))
        guard variance > 0 else { return 1 }
        let z = (u - mn / 2 - 0.5) / variance.squareRoot()
        return 0.5 * erfc(z / 2.0.squareRoot())
    }
}
