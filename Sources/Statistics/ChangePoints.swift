import Foundation

/// One change point of a series: the series' distribution changes at `index` (the first point of the
/// new regime), judged by Student's t-test between the neighbouring segments.
public struct ChangePoint: Sendable, Equatable, Codable {
    /// Index of the first point after the change.
    public var index: Int
    /// E-divisive divergence between the two sides when the point was found (Otava's `qhat`).
    public var qhat: Double
    public var meanBefore: Double
    public var meanAfter: Double
    public var stddevBefore: Double
    public var stddevAfter: Double
    /// Two-sided p-value of the t-test between the segments on either side.
    public var pValue: Double

    /// Relative change from before to after (`after / before - 1`), 0 when `before` is 0.
    public var forwardChange: Double { meanBefore == 0 ? 0 : meanAfter / meanBefore - 1 }
    /// Otava's magnitude: the larger of the forward and backward relative changes, in absolute value.
    public var magnitude: Double {
        let backward = meanAfter == 0 ? 0 : meanBefore / meanAfter - 1
        return max(abs(forwardChange), abs(backward))
    }

    enum CodingKeys: String, CodingKey {
        case index, qhat, meanBefore = "mean_before", meanAfter = "mean_after"
        case stddevBefore = "stddev_before", stddevAfter = "stddev_after", pValue = "p_value"
    }
}

/// E-divisive means change-point detection as Apache Otava 0.8 does it (Fleming et al., "Hunter:
/// Using Change Point Detection to Hunt for Performance Regressions", after Matteson and James):
///
/// 1. *Split*: slide a window of `windowLength` points (step half a window) over the series; in each
///    window, repeatedly split the segment with the largest E-divisive divergence Q̂ at its maximising
///    point while a two-sided t-test between the two halves gives p <= the first-pass level (10x
///    `maxPValue` below 0.05). The union of these are the weak change points.
/// 2. *Merge*: repeatedly drop the weakest point (largest p; when all pass, the smallest magnitude if
///    it is <= `minMagnitude`) and re-test its neighbours on their new segments.
///
/// The arithmetic follows Otava's `PairDistanceCalculator` (same sums in the same order, the same
/// first-maximum tie breaking over the same matrix) so both give the same points on the same series.
public enum ChangePointDetection {
    public static let defaultWindowLength = 50
    public static let defaultMaxPValue = 0.001

    public static func changePoints(in series: [Double], windowLength: Int = defaultWindowLength,
                                    maxPValue: Double = defaultMaxPValue,
                                    minMagnitude: Double = 0) -> [ChangePoint] {
        precondition(windowLength >= 2, "the window must hold at least 2 points")
        let firstPass = maxPValue < 0.05 ? maxPValue * 10 : (maxPValue < 0.5 ? maxPValue * 2 : maxPValue)
        let weak = split(series, windowLength: windowLength, maxPValue: firstPass)
        return merge(weak, series: series, maxPValue: maxPValue, minMagnitude: minMagnitude)
    }

    // MARK: split

    static func split(_ series: [Double], windowLength: Int, maxPValue: Double) -> [ChangePoint] {
        let step = windowLength / 2
        var start = 0
        var found: [ChangePoint] = []
        while start < series.count {
            let end = min(start + windowLength, series.count)
            let window = Array(series[start..<end])
            let points = divisive(window, maxPValue: maxPValue).map { point -> ChangePoint in
                var shifted = point
                shifted.index += start
                return shifted
            }
            let last = points.last?.index ?? 0
            start = max(last, start + step)
            for point in points where !found.contains(where: { $0.index == point.index }) {
                found.append(point)
            }
        }
        found.sort { $0.index < $1.index }
        let bounds = segments(found.map(\.index), count: series.count)
        return found.map { test(index: $0.index, qhat: $0.qhat, series: series, segments: bounds) }
    }

    /// Otava's `ChangePointDetector.get_change_points` with the t-test tester on one window.
    static func divisive(_ series: [Double], maxPValue: Double) -> [ChangePoint] {
        let calculator = PairDistances(series)
        var points: [ChangePoint] = []
        while true {
            let bounds = segments(points.map(\.index), count: series.count)
            var best: (index: Int, qhat: Double)?
            for segment in bounds where segment.upperBound - segment.lowerBound > 1 {
                let candidate = calculator.candidate(start: segment.lowerBound, end: segment.upperBound)
                if best == nil || candidate.qhat > best!.qhat { best = candidate }
            }
            guard let best else { break }
            let point = test(index: best.index, qhat: best.qhat, series: series, segments: bounds)
            guard point.pValue <= maxPValue else { break }
            points.append(point)
            points.sort { $0.index < $1.index }
        }
        return points
    }

    // MARK: merge

    static func merge(_ weak: [ChangePoint], series: [Double], maxPValue: Double, minMagnitude: Double) -> [ChangePoint] {
        var points = weak
        while !points.isEmpty {
            // Python's max/min keep the first of equal keys; NaN never compares greater.
            var weakest = 0
            for i in points.indices.dropFirst() where points[i].pValue > points[weakest].pValue { weakest = i }
            if points[weakest].pValue < maxPValue {
                weakest = 0
                for i in points.indices.dropFirst() where points[i].magnitude < points[weakest].magnitude { weakest = i }
                if points[weakest].magnitude > minMagnitude { return points }
            }
            points.remove(at: weakest)
            let bounds = segments(points.map(\.index), count: series.count)
            for i in [weakest, weakest + 1] where i < points.count {
                points[i] = test(index: points[i].index, qhat: points[i].qhat, series: series, segments: bounds)
            }
        }
        return points
    }

    // MARK: significance

    /// The segments between sorted change points, empty ones dropped.
    static func segments(_ indices: [Int], count: Int) -> [Range<Int>] {
        let edges = [0] + indices + [count]
        return zip(edges, edges.dropFirst()).compactMap { $0 == $1 ? nil : $0..<$1 }
    }

    /// Otava's `TTestSignificanceTester.change_point`: a point at a segment's end compares the two
    /// segments it separates; a point inside a segment compares the segment's two parts.
    static func test(index: Int, qhat: Double, series: [Double], segments: [Range<Int>]) -> ChangePoint {
        var left = 0..<0, right = 0..<0
        for (i, segment) in segments.enumerated() {
            if segment.upperBound == index, i + 1 < segments.count {
                left = segment; right = segments[i + 1]; break
            } else if segment.lowerBound < index && index < segment.upperBound {
                left = segment.lowerBound..<index; right = index..<segment.upperBound; break
            }
        }
        precondition(!left.isEmpty && !right.isEmpty, "change point \(index) lies in no segment")
        let a = Array(series[left]), b = Array(series[right])
        let (meanA, sdA) = meanAndPopulationSD(a), (meanB, sdB) = meanAndPopulationSD(b)
        let p = a.count + b.count > 2
            ? StudentT.pooledTwoSidedP(meanA: meanA, sdA: sdA, countA: a.count, meanB: meanB, sdB: sdB, countB: b.count)
            : 1
        return ChangePoint(index: index, qhat: qhat, meanBefore: meanA, meanAfter: meanB,
                           stddevBefore: sdA, stddevAfter: sdB, pValue: p)
    }

    /// numpy's `mean` and `std` (ddof 0), which Otava hands to scipy as if they were sample SDs.
    static func meanAndPopulationSD(_ values: [Double]) -> (Double, Double) {
        let mean = values.reduce(0, +) / Double(values.count)
        guard values.count >= 2 else { return (mean, 0) }
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
        return (mean, variance.squareRoot())
    }
}

/// Otava's `PairDistanceCalculator` with power 1: the E-divisive divergence
/// Q(τ, κ) = 2/(m+n) ΣΣ|Xi−Yj| − 2m/((m+n)(n−1)) Σ|Xi−Xk| − 2n/((m+n)(m−1)) Σ|Yj−Yk|
/// of X = series[start..<τ] and Y = series[τ..<κ], for every start < τ < κ <= end.
struct PairDistances {
    let series: [Double]
    /// distance[r][c] = |series[r] − series[c]|.
    let distance: [[Double]]
    /// Σ_{r<=c} distance[r][c+1] (Otava's V).
    let columnSums: [Double]
    /// Σ_{col=r+1...c+1} distance[r][col] (Otava's H), 0 where c+1 <= r.
    let rowPrefix: [[Double]]

    init(_ series: [Double]) {
        self.series = series
        let n = series.count
        distance = series.map { x in series.map { abs(x - $0) } }
        var columnSums = [Double](repeating: 0, count: max(n - 1, 0))
        var rowPrefix = [[Double]](repeating: [Double](repeating: 0, count: max(n - 1, 0)), count: max(n - 1, 0))
        for c in 0..<max(n - 1, 0) {
            var sum = 0.0
            for r in 0..<(n - 1) { sum += r <= c ? distance[r][c + 1] : 0 }
            columnSums[c] = sum
        }
        for r in 0..<max(n - 1, 0) {
            var sum = 0.0
            for c in 0..<(n - 1) {
                sum += c + 1 > r ? distance[r][c + 1] : 0
                rowPrefix[r][c] = sum
            }
        }
        self.columnSums = columnSums
        self.rowPrefix = rowPrefix
    }

    /// The τ maximising Q over series[start..<end], and that maximum; the first maximum in row-major
    /// order of Otava's matrix, whose lower triangle holds zeros.
    func candidate(start: Int, end: Int) -> (index: Int, qhat: Double) {
        let size = end - 1 - start
        // V for this segment: distances from column t = start+1+k to rows start..<t.
        var v = [Double](repeating: 0, count: size)
        for k in 0..<size {
            var above = 0.0
            for r in 0..<start { above += distance[r][start + 1 + k] }
            v[k] = columnSums[start + k] - above
        }
        var cumulativeV = [Double](repeating: 0, count: size)
        var running = 0.0
        for k in 0..<size { running += v[k]; cumulativeV[k] = running }
        func h(_ a: Int, _ b: Int) -> Double { rowPrefix[start + a][start + b] }
        // Column sums of H down to row i (for A) and from row i+1 to the end (for C).
        var best = (i: 0, j: 0, q: -Double.infinity)
        var downTo = [Double](repeating: 0, count: size)
        var fromBelow = [[Double]](repeating: [Double](repeating: 0, count: size), count: size)
        for j in 1..<max(size, 1) {
            var sum = 0.0
            var a = size - 1
            while a >= 1 { sum += h(a, j); fromBelow[a - 1][j] = sum; a -= 1 }
        }
        for i in 0..<size {
            let tau = Double(start + 1 + i)
            for j in 0..<size {
                downTo[j] += h(i, j)
                var q = 0.0
                if j >= i {
                    let kappa = Double(start + 2 + j), s = Double(start)
                    let aTerm = 2 / (kappa - s) * (downTo[j] - (i >= 1 ? cumulativeV[i - 1] : 0))
                    var bTerm = 0.0
                    if i >= 1 && j >= 1 {
                        bTerm = (2 * (kappa - tau)) / ((kappa - s) * (tau - s - 1)) * cumulativeV[i - 1]
                    }
                    var cTerm = 0.0
                    if j > i && i < size - 1 {
                        cTerm = (2 * (tau - s)) / ((kappa - s) * (kappa - tau - 1)) * fromBelow[i][j]
                    }
                    q = aTerm - bTerm - cTerm
                }
                if q > best.q { best = (i, j, q) }
            }
        }
        return (start + 1 + best.i, best.q)
    }
}

/// Student's t distribution, for the pooled two-sample t-test scipy's `ttest_ind_from_stats` runs.
public enum StudentT {
    /// Two-sided p of the equal-variance t-test from summary statistics (scipy's
    /// `ttest_ind_from_stats(..., equal_var=True)`): NaN when both spreads are 0 and the means equal.
    public static func pooledTwoSidedP(meanA: Double, sdA: Double, countA: Int,
                                       meanB: Double, sdB: Double, countB: Int) -> Double {
        let na = Double(countA), nb = Double(countB)
        let df = na + nb - 2
        let pooled = ((na - 1) * sdA * sdA + (nb - 1) * sdB * sdB) / df
        let t = (meanA - meanB) / (pooled * (1 / na + 1 / nb)).squareRoot()
        return twoSidedP(t: t, degreesOfFreedom: df)
    }

    /// P(|T| >= |t|) for T ~ t(df) = I_{df/(df+t²)}(df/2, 1/2).
    public static func twoSidedP(t: Double, degreesOfFreedom df: Double) -> Double {
        if t.isNaN || df.isNaN || df <= 0 { return .nan }
        if t.isInfinite { return 0 }
        return regularizedIncompleteBeta(x: df / (df + t * t), a: df / 2, b: 0.5)
    }

    /// I_x(a, b) by Lentz's continued fraction (Numerical Recipes 6.4), accurate to ~1e-14.
    static func regularizedIncompleteBeta(x: Double, a: Double, b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let logBeta: Double = lgamma(a) + lgamma(b) - lgamma(a + b)
        let logPowers: Double = a * log(x) + b * log(1 - x)
        let logFront = logPowers - logBeta
        if x < (a + 1) / (a + b + 2) {
            return exp(logFront) * continuedFraction(x: x, a: a, b: b) / a
        }
        return 1 - exp(logFront) * continuedFraction(x: 1 - x, a: b, b: a) / b
    }

    private static func continuedFraction(x: Double, a: Double, b: Double) -> Double {
        let tiny = 1e-300, epsilon = 1e-15
        var c = 1.0, d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var f = d
        for m in 1...300 {
            let m = Double(m)
            var numerator = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
            d = 1 + numerator * d; if abs(d) < tiny { d = tiny }
            c = 1 + numerator / c; if abs(c) < tiny { c = tiny }
            d = 1 / d; f *= d * c
            numerator = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
            d = 1 + numerator * d; if abs(d) < tiny { d = tiny }
            c = 1 + numerator / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            f *= delta
            if abs(delta - 1) < epsilon { break }
        }
        return f
    }
}
