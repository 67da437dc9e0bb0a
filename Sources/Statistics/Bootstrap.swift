/// Percentile-bootstrap confidence intervals (Efron and Tibshirani, "An Introduction to the Bootstrap",
/// ch. 13; `scipy.stats.bootstrap(..., method="percentile")`): resample with replacement, compute the
/// statistic for every resample, and take the (1 - confidence)/2 and (1 + confidence)/2 percentiles
/// (linear interpolation, as `Summary.percentile(_:of:)`) of those statistics. A `SplitMix64` seeded
/// with `seed` draws the resamples from the sorted samples, so equal inputs give equal intervals
/// whatever the order of the samples.
public enum Bootstrap {
    /// The seed used when none is given ("kvmbench" in ASCII).
    public static let defaultSeed: UInt64 = 0x6B76_6D62_656E_6368
    /// The number of resamples used when none is given.
    public static let defaultResamples = 10_000

    /// Percentile-bootstrap interval `[low, high]` of the median of `samples`; nil with fewer than
    /// 2 samples or no resamples.
    public static func medianInterval(of samples: [Double], confidence: Double = 0.95,
                                      resamples: Int = defaultResamples,
                                      seed: UInt64 = defaultSeed) -> [Double]? {
        guard samples.count >= 2, resamples > 0 else { return nil }
        let sorted = samples.sorted()
        var rng = SplitMix64(seed: seed)
        var resampler = Resampler(sorted)
        let medians = (0..<resamples).map { _ in resampler.median(using: &rng) }
        return interval(of: medians, confidence: confidence)
    }

    /// Percentile-bootstrap interval `[low, high]` of median(after) / median(before), resampling each side
    /// independently. nil when either side has fewer than 2 samples, either median is 0, there are no
    /// resamples, or the interval is not finite (a resample of `before` had a median of 0).
    public static func ratioOfMedians(before: [Double], after: [Double], confidence: Double = 0.95,
                                      resamples: Int = defaultResamples,
                                      seed: UInt64 = defaultSeed) -> [Double]? {
        guard before.count >= 2, after.count >= 2, resamples > 0,
              Summary.median(of: before) != 0, Summary.median(of: after) != 0 else { return nil }
        let before = before.sorted(), after = after.sorted()
        var rng = SplitMix64(seed: seed)
        var beforeResampler = Resampler(before)
        var afterResampler = Resampler(after)
        let ratios = (0..<resamples).map { _ in
            let b = beforeResampler.median(using: &rng)
            let a = afterResampler.median(using: &rng)
            return a / b
        }
        guard let bounds = interval(of: ratios, confidence: confidence),
              bounds.allSatisfy(\.isFinite) else { return nil }
        return bounds
    }

    /// The median of one resample (with replacement) of `sorted` (ascending): as many draws as
    /// samples, each `rng.nextIndex(below:)`. `counts` (one per sample) tallies how often each
    /// sample was drawn; as `sorted` is ascending the sorted resample is every sample repeated its
    /// count in order, so the median is read off the tallies without sorting the resample (the
    /// same median as sorting it, in a fraction of the time). Samples must not be NaN (no order).
    static func resampledMedian(of sorted: [Double], counts: inout [Int],
                                using rng: inout SplitMix64) -> Double {
        let count = sorted.count
        for index in counts.indices { counts[index] = 0 }
        for _ in 0..<count { counts[rng.nextIndex(below: count)] += 1 }
        // The sorted resample's elements at positions (count - 1) / 2 and count / 2 (equal when
        // count is odd), as `Summary.median(ofSorted:)` takes them.
        let lowPosition = (count - 1) / 2, highPosition = count / 2
        var low = Double.nan
        var seen = 0
        for index in counts.indices {
            seen += counts[index]
            if low.isNaN, seen > lowPosition { low = sorted[index] }
            if seen > highPosition {
                return count % 2 == 1 ? sorted[index] : (low + sorted[index]) / 2
            }
        }
        return .nan
    }

    /// The same resample's median by sorting it: for samples with NaN, which have no order to
    /// tally in (sorting puts them where the draw order leaves them).
    static func resampledMedianBySorting(of samples: [Double], into buffer: inout [Double],
                                         using rng: inout SplitMix64) -> Double {
        for index in buffer.indices { buffer[index] = samples[rng.nextIndex(below: samples.count)] }
        buffer.sort()
        return Summary.median(ofSorted: buffer)
    }

    /// `resampledMedian`, or `resampledMedianBySorting` where `sorted` holds a NaN.
    struct Resampler {
        let sorted: [Double]
        let hasNaN: Bool
        var counts: [Int]
        var buffer: [Double]

        init(_ sorted: [Double]) {
            self.sorted = sorted
            hasNaN = sorted.contains(where: \.isNaN)
            counts = [Int](repeating: 0, count: sorted.count)
            buffer = sorted
        }

        mutating func median(using rng: inout SplitMix64) -> Double {
            hasNaN ? Bootstrap.resampledMedianBySorting(of: sorted, into: &buffer, using: &rng)
                : Bootstrap.resampledMedian(of: sorted, counts: &counts, using: &rng)
        }
    }

    /// The central `confidence` percentile interval of `statistics`.
    static func interval(of statistics: [Double], confidence: Double) -> [Double]? {
        guard !statistics.isEmpty else { return nil }
        let sorted = statistics.sorted()
        let tail = (1 - min(max(confidence, 0), 1)) / 2 * 100
        return [Summary.percentile(tail, of: sorted), Summary.percentile(100 - tail, of: sorted)]
    }
}
