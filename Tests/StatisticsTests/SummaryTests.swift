import Testing
@testable import Statistics

@Suite("Summary and percentiles")
struct SummaryTests {
    /// Shuffled on purpose: sorting is the summary's job.
    static let values = [3.5, 1.25, 9.0, 4.75, 2.0, 7.5, 6.0]

    /// Expected values from `numpy.percentile(values, p)` (numpy 2.4.6, default method="linear").
    @Test(arguments: [
        (0.0, 1.25), (10.0, 1.7000000000000002), (25.0, 2.75), (50.0, 4.75),
        (62.5, 5.6875), (90.0, 8.100000000000001), (97.5, 8.774999999999999), (100.0, 9.0),
    ])
    func percentileMatchesNumpy(p: Double, expected: Double) {
        #expect(Summary.percentile(p, of: Self.values.sorted()) == expected)
    }

    @Test func percentileEdgeCases() {
        // numpy.percentile([2.0, 4.0], 30) == 2.6
        #expect(abs(Summary.percentile(30, of: [2.0, 4.0]) - 2.6) < 1e-15)
        #expect(Summary.percentile(42, of: [7.0]) == 7.0)
        #expect(Summary.percentile(50, of: []).isNaN)
        #expect(Summary.percentile(-5, of: [1, 2, 3]) == 1)
        #expect(Summary.percentile(150, of: [1, 2, 3]) == 3)
    }

    /// Expected values from numpy: `np.mean(values)`, `np.median(values)`,
    /// `np.std(values, ddof=1)` and `np.std(values, ddof=1) / np.mean(values)`.
    @Test func descriptiveStatisticsMatchNumpy() {
        let summary = Summary(samples: Self.values)
        #expect(summary.count == 7)
        #expect(summary.min == 1.25)
        #expect(summary.max == 9.0)
        #expect(abs(summary.mean - 4.857142857142857) < 1e-12)
        #expect(summary.median == 4.75)
        #expect(abs(summary.standardDeviation - 2.8425969012255576) < 1e-12)
        #expect(abs(summary.coefficientOfVariation - 0.5852405384876148) < 1e-12)
    }

    @Test func medianOfEvenCountIsMeanOfMiddlePair() {
        #expect(Summary(samples: [4, 1, 3, 2]).median == 2.5)
    }

    @Test func degenerateSamples() {
        let one = Summary(samples: [5])
        #expect(one.standardDeviation == 0)
        #expect(one.coefficientOfVariation == 0)
        #expect(one.medianInterval == nil)

        let zeros = Summary(samples: [0, 0, 0])
        #expect(zeros.coefficientOfVariation == 0)
        #expect(zeros.medianInterval == [0, 0])

        let none = Summary(samples: [])
        #expect(none.count == 0)
        #expect(none.mean.isNaN && none.median.isNaN && none.min.isNaN && none.max.isNaN)
        #expect(none.standardDeviation == 0 && none.coefficientOfVariation == 0)
        #expect(none.medianInterval == nil)
    }

    @Test func summaryIsReproducibleAndOrderIndependent() {
        let samples = [10.2, 9.8, 10.5, 10.1, 9.9, 10.4, 10.0, 10.3]
        #expect(Summary(samples: samples) == Summary(samples: samples))
        #expect(Summary(samples: samples) == Summary(samples: samples.reversed()))
        let interval = Summary(samples: samples).medianInterval
        #expect(interval == Bootstrap.medianInterval(of: samples))
    }
}

@Suite("SplitMix64")
struct SplitMix64Tests {
    /// The reference `splitmix64.c` (Vigna) seeded with 1234567; recomputed with a Python transcription
    /// of that C code.
    @Test func matchesReferenceSequence() {
        var rng = SplitMix64(seed: 1_234_567)
        let expected: [UInt64] = [
            6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423,
            4_593_380_528_125_082_431, 16_408_922_859_458_223_821,
        ]
        #expect(expected.map { _ in rng.next() } == expected)
    }

    @Test func sameSeedSameSequence() {
        var a = SplitMix64(seed: 42), b = SplitMix64(seed: 42), c = SplitMix64(seed: 43)
        let first = (0..<8).map { _ in a.next() }
        #expect(first == (0..<8).map { _ in b.next() })
        #expect(first != (0..<8).map { _ in c.next() })
    }
}
