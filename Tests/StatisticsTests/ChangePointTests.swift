import Testing
@testable import Statistics

/// E-divisive change points against Apache Otava 0.8.0 on the same series. The series and Otava's
/// answers were captured with (numbers rounded to 4 decimals so both tools read identical input):
///
///     import numpy as np
///     from otava.analysis import compute_change_points
///     rng = np.random.default_rng(14)
///     def noisy(levels, sd):
///         return [round(float(l * (1 + rng.normal(0, sd))), 4) for l in levels]
///     step = noisy([100.0]*15 + [120.0]*15, 0.02)
///     twoSteps = noisy([50.0]*12 + [40.0]*12 + [60.0]*12, 0.03)
///     noStep = noisy([80.0]*30, 0.05)
///     long = noisy([10.0]*40 + [13.0]*40 + [10.0]*40, 0.04)
///     subtle = noisy([100.0]*20 + [104.0]*20 + [100.0]*20, 0.04)
///     for s in (step, twoSteps, noStep, long, subtle):
///         for w in (50, 20):
///             cps, weak = compute_change_points(s, window_len=w, max_pvalue=0.001)
///             print([(c.index, "%.6g" % c.stats.pvalue, "%.6g" % c.stats.change_magnitude()) for c in cps])
///
/// The live comparison on a real nightly series is in HistoryTests (OtavaLiveTests).
@Suite("change points agree with Apache Otava")
struct ChangePointTests {
    /// One series, one window length, and Otava's answer on it: (index, p-value, magnitude) per
    /// change point.
    struct OtavaCase: Sendable, CustomTestStringConvertible {
        var name: String
        var series: [Double]
        var window: Int
        var otava: [(index: Int, p: Double, magnitude: Double)]
        var testDescription: String { "\(name), window \(window)" }
    }

    static let otavaCases: [OtavaCase] = [
        // A 20% step at 15.
        OtavaCase(name: "step", series: step, window: 50, otava: [(15, 1.30506e-18, 0.195262)]),
        OtavaCase(name: "two steps", series: twoSteps, window: 50, otava: [(12, 7.5038e-16, 0.245293), (24, 1.09246e-21, 0.475079)]),
        OtavaCase(name: "two steps", series: twoSteps, window: 20, otava: [(12, 7.5038e-16, 0.245293), (24, 1.09246e-21, 0.475079)]),
        // Noise without a step has no change point.
        OtavaCase(name: "no step", series: noStep, window: 50, otava: []),
        // A long series slides the window.
        OtavaCase(name: "long", series: long, window: 50, otava: [(40, 4.7843e-44, 0.289079), (80, 7.36031e-42, 0.294203)]),
        OtavaCase(name: "long", series: long, window: 20, otava: [(40, 4.7843e-44, 0.289079), (80, 7.36031e-42, 0.294203)]),
        // A 4% step in 4% noise: Otava places the first point early (14, not 20) and finds nothing
        // with 20-point windows; so must we.
        OtavaCase(name: "subtle step", series: subtle, window: 50, otava: [(14, 0.000349088, 0.0417257), (44, 1.24223e-06, 0.0537644)]),
        OtavaCase(name: "subtle step", series: subtle, window: 20, otava: []),
    ]

    @Test("change points, p-values and magnitudes as Otava's", arguments: otavaCases)
    func agreesWithOtava(_ example: OtavaCase) {
        let ours = ChangePointDetection.changePoints(in: example.series, windowLength: example.window, maxPValue: 0.001)
        let otava = example.otava
        #expect(ours.map(\.index) == otava.map(\.index), "ours \(ours.map(\.index)), Otava \(otava.map(\.index))")
        for (mine, theirs) in zip(ours, otava) {
            #expect(abs(mine.pValue - theirs.p) <= theirs.p * 1e-4 + 1e-300, "p at \(mine.index): \(mine.pValue) vs \(theirs.p)")
            #expect(abs(mine.magnitude - theirs.magnitude) <= 1e-5, "magnitude at \(mine.index)")
        }
    }

    /// `scipy.stats.ttest_ind_from_stats(10, 1, 5, 11, 1.5, 7)` -> p 0.2257513473816085;
    /// `(100, 3, 15, 103, 2, 2)` -> 0.19587044237226559.
    @Test func pooledTTestMatchesScipy() {
        let p1 = StudentT.pooledTwoSidedP(meanA: 10, sdA: 1, countA: 5, meanB: 11, sdB: 1.5, countB: 7)
        let p2 = StudentT.pooledTwoSidedP(meanA: 100, sdA: 3, countA: 15, meanB: 103, sdB: 2, countB: 2)
        #expect(abs(p1 - 0.2257513473816085) < 1e-12)
        #expect(abs(p2 - 0.19587044237226559) < 1e-12)
    }

    @Test func constantAndTinySeriesHaveNoChangePoint() {
        #expect(ChangePointDetection.changePoints(in: []).isEmpty)
        #expect(ChangePointDetection.changePoints(in: [5]).isEmpty)
        #expect(ChangePointDetection.changePoints(in: Array(repeating: 3, count: 20)).isEmpty)
    }

    static let step: [Double] = [
        101.391, 98.0411, 96.853, 94.1501, 99.2935, 102.4952, 100.0661, 101.0237, 102.0465, 98.2357,
        105.3046, 98.2462, 100.7471, 105.4792, 99.7715, 120.2743, 118.7715, 120.8029, 114.896, 118.4477,
        124.0658, 120.5072, 119.423, 120.895, 120.9951, 120.365, 121.3886, 116.017, 121.419, 118.3835,
    ]
    static let twoSteps: [Double] = [
        51.1787, 49.9681, 48.5027, 49.8918, 48.4894, 51.5191, 49.9571, 51.2796, 48.3274, 52.4291,
        49.5484, 52.0479, 41.0249, 38.6789, 40.3878, 39.3491, 40.4912, 41.719, 40.8264, 41.2815,
        38.5941, 40.2447, 40.4309, 41.3067, 58.885, 61.0238, 60.773, 57.2562, 58.1285, 60.8004,
        57.8822, 57.7916, 61.6114, 60.514, 59.5767, 60.1899,
    ]
    static let noStep: [Double] = [
        78.3819, 77.8523, 78.1576, 81.5442, 85.2852, 78.117, 79.7254, 79.1269, 74.9599, 81.0078,
        83.4671, 76.6253, 83.3324, 77.7133, 84.6052, 84.8635, 78.4677, 71.9962, 78.608, 74.4352,
        74.7411, 78.9887, 85.4418, 79.6316, 79.1217, 72.598, 77.5755, 74.4197, 82.0813, 77.887,
    ]
    static let long: [Double] = [
        9.9824, 9.9933, 9.9249, 10.381, 10.1947, 9.8721, 10.0615, 10.2211, 10.5485, 10.0519,
        10.579, 9.7623, 9.9065, 9.4051, 10.3288, 9.587, 9.587, 10.3368, 9.7869, 9.6988,
        10.3812, 9.9263, 10.3681, 9.8389, 10.2907, 10.4314, 10.0329, 10.7196, 9.8415, 9.9153,
        10.0317, 10.4022, 9.885, 9.8254, 10.1015, 10.4999, 9.8334, 9.4889, 9.9477, 10.2495,
        12.7177, 13.0646, 12.0281, 13.0111, 13.0534, 13.3237, 13.1608, 13.4013, 12.4829, 13.3434,
        12.1413, 12.6896, 13.575, 13.4426, 12.0364, 13.306, 12.776, 12.5955, 13.1063, 13.067,
        13.725, 12.2502, 12.7772, 12.9259, 12.0429, 13.61, 13.9132, 12.6749, 13.1984, 12.8601,
        13.1406, 12.6487, 13.4324, 12.3939, 13.709, 13.1853, 14.2609, 12.1413, 12.9503, 12.3315,
        9.944, 10.174, 9.6322, 9.426, 9.3065, 10.0883, 10.5107, 10.4688, 10.0135, 9.6153,
        9.8547, 9.3968, 9.3695, 10.4264, 9.8887, 10.1258, 9.8906, 10.53, 10.575, 9.6895,
        9.8536, 9.7299, 10.5271, 10.4986, 9.8839, 10.9198, 10.0106, 9.5136, 9.1867, 9.9425,
        10.1285, 9.7654, 10.1452, 10.478, 9.9761, 10.3372, 10.6658, 10.1991, 9.7678, 10.1727,
    ]
    static let subtle: [Double] = [
        102.1468, 108.5498, 98.2617, 93.7985, 101.1952, 101.3032, 98.3373, 102.2589, 101.2729, 104.844,
        96.6596, 97.1902, 99.9097, 97.9689, 105.0843, 102.3165, 99.9111, 106.1109, 102.0064, 103.998,
        107.3489, 103.3868, 103.4163, 104.0306, 99.4618, 102.5651, 107.5538, 105.2885, 100.0738, 113.832,
        99.7145, 106.59, 107.0176, 109.3134, 100.4248, 104.1039, 103.2069, 108.7749, 105.6291, 105.7795,
        102.2072, 107.9024, 102.7693, 103.6107, 96.3735, 102.8927, 95.1357, 103.929, 100.7592, 96.6426,
        95.6014, 99.8338, 100.7089, 97.9769, 98.9201, 99.0169, 98.1341, 99.4996, 101.3543, 105.4703,
    ]
}
