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
        var buffer = sorted
        let medians = (0..<resamples).map { _ in resampledMedian(of: sorted, into: &buffer, using: &rng) }
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
        var beforeBuffer = before
        var afterBuffer = after
        let ratios = (0..<resamples).map { _ in
            let b = resampledMedian(of: before, into: &beforeBuffer, using: &rng)
            let a = resampledMedian(of: after, into: &afterBuffer, using: &rng)
            return a / b
        }
        guard let bounds = interval(of: ratios, confidence: confidence),
              bounds.allSatisfy(\.isFinite) else { return nil }
        return bounds
    }

    /// The median of one resample (with replacement) of `samples`, drawn into `buffer` (same count).
    static func resampledMedian(of samples: [Double], into buffer: inout [Double],
                                using rng: inout SplitMix64) -> Double {
        for index in buffer.indices {
            buffer[index] = samples[Int.random(in: 0..<samples.count, using: &rng)]
        }
        buffer.sort()
        return Summary.median(ofSorted: buffer)
    }

    /// The central `confidence` percentile interval of `statistics`.
    static func interval(of statistics: [Double], confidence: Double) -> [Double]? {
        guard !statistics.isEmpty else { return nil }
        let sorted = statistics.sorted()
        let tail = (1 - min(max(confidence, 0), 1)) / 2 * 100
        return [Summary.percentile(tail, of: sorted), Summary.percentile(100 - tail, of: sorted)]
    }
}
