import Foundation

/// Descriptive statistics of one metric's samples (one sample per repetition).
///
/// Conventions: the standard deviation is the sample one (divisor n - 1, numpy's `ddof=1`), the median
/// is the middle value or the mean of the two middle values, and `medianInterval` is a percentile
/// bootstrap interval. With no samples, `min`, `max`, `mean` and `median` are NaN.
public struct Summary: Codable, Sendable, Equatable {
    /// Number of samples.
    public var count: Int
    /// Smallest sample.
    public var min: Double
    /// Largest sample.
    public var max: Double
    /// Arithmetic mean.
    public var mean: Double
    /// Median: the 50th percentile.
    public var median: Double
    /// Sample standard deviation (divisor n - 1); 0 when there are fewer than 2 samples.
    public var standardDeviation: Double
    /// Coefficient of variation, standardDeviation / |mean|; 0 when the mean is 0.
    public var coefficientOfVariation: Double
    /// Percentile-bootstrap confidence interval of the median as `[low, high]`; nil with fewer than 2 samples.
    public var medianInterval: [Double]?

    /// Summarises `samples`; `confidence`, `resamples` and `seed` shape the bootstrap of the median
    /// (see `Bootstrap.medianInterval(of:confidence:resamples:seed:)`). Equal inputs give equal summaries.
    public init(samples: [Double], confidence: Double = 0.95, resamples: Int = Bootstrap.defaultResamples,
                seed: UInt64 = Bootstrap.defaultSeed) {
        let sorted = samples.sorted()
        count = sorted.count
        min = sorted.first ?? .nan
        max = sorted.last ?? .nan
        mean = Self.mean(of: sorted)
        median = Self.median(ofSorted: sorted)
        standardDeviation = Self.standardDeviation(of: sorted, mean: mean)
        coefficientOfVariation = mean == 0 || sorted.isEmpty ? 0 : standardDeviation / Swift.abs(mean)
        medianInterval = Bootstrap.medianInterval(of: sorted, confidence: confidence,
                                                  resamples: resamples, seed: seed)
    }

    /// The `p`-th percentile (0...100, clamped) of already sorted values, interpolating linearly between
    /// the two nearest ranks: numpy's default, `numpy.percentile(values, p, method="linear")`
    /// (Hyndman and Fan's definition 7). NaN for no values.
    public static func percentile(_ p: Double, of sorted: [Double]) -> Double {
        guard let first = sorted.first else { return .nan }
        guard sorted.count > 1, p.isFinite else { return first }
        let position = Swift.min(Swift.max(p, 0), 100) / 100 * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down))
        let upper = Swift.min(lower + 1, sorted.count - 1)
        let fraction = position - Double(lower)
        let (a, b) = (sorted[lower], sorted[upper])
        // numpy's `_lerp`: interpolate from the nearer end, so that the result is exact at both ends.
        return fraction < 0.5 ? a + (b - a) * fraction : b - (b - a) * (1 - fraction)
    }

    /// The median of already sorted values; NaN for no values.
    public static func median(ofSorted sorted: [Double]) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    /// The median of values in any order; NaN for no values.
    public static func median(of values: [Double]) -> Double {
        median(ofSorted: values.sorted())
    }

    static func mean(of values: [Double]) -> Double {
        values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
    }

    static func standardDeviation(of values: [Double], mean: Double) -> Double {
        guard values.count > 1 else { return 0 }
        let squares = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        return (squares / Double(values.count - 1)).squareRoot()
    }

    enum CodingKeys: String, CodingKey {
        case count, min, max, mean, median, standardDeviation = "standard_deviation"
        case coefficientOfVariation = "coefficient_of_variation", medianInterval = "median_interval"
    }
}
