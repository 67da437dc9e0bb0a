import Testing
@testable import Statistics

@Suite("Bootstrap")
struct BootstrapTests {
    static let samples = [10.2, 9.8, 10.5, 10.1, 9.9, 10.4, 10.0, 10.3]

    @Test func sameSeedSameInterval() {
        #expect(Bootstrap.medianInterval(of: Self.samples, seed: 7) == Bootstrap.medianInterval(of: Self.samples, seed: 7))
        let before = ChangeDecisionTests.before, after = ChangeDecisionTests.shifted(1.2)
        #expect(Bootstrap.ratioOfMedians(before: before, after: after, seed: 7)
            == Bootstrap.ratioOfMedians(before: before, after: after, seed: 7))
    }

    @Test func medianIntervalContainsTheMedianAndStaysWithinTheSamples() throws {
        let interval = try #require(Bootstrap.medianInterval(of: Self.samples))
        let median = Summary.median(of: Self.samples)
        #expect(interval.count == 2)
        #expect(interval[0] <= median && median <= interval[1])
        #expect(Self.samples.min()! <= interval[0] && interval[1] <= Self.samples.max()!)
    }

    /// `scipy.stats.bootstrap((samples,), np.median, method='percentile', n_resamples=10000,
    /// confidence_level=0.95, rng=np.random.default_rng(12345))` gives (9.9, 10.4). The generators differ,
    /// so only loose agreement is expected; each bound is a median of 8 resampled values, so a multiple
    /// of 0.05 here.
    @Test func medianIntervalAgreesLooselyWithScipy() throws {
        let interval = try #require(Bootstrap.medianInterval(of: Self.samples))
        #expect(abs(interval[0] - 9.9) <= 0.1)
        #expect(abs(interval[1] - 10.4) <= 0.1)
        for bound in interval {
            #expect(abs((bound * 20).rounded() - bound * 20) < 1e-6)
        }
    }

    /// `scipy.stats.bootstrap((before, after), lambda b, a: np.median(a) / np.median(b),
    /// method='percentile', n_resamples=10000, vectorized=False, paired=False,
    /// rng=np.random.default_rng(12345))` gives (1.1880893300248139, 1.212012012012012);
    /// the ratio of the medians is 1.2 exactly.
    @Test func ratioIntervalAgreesLooselyWithScipy() throws {
        let before = ChangeDecisionTests.before, after = ChangeDecisionTests.shifted(1.2)
        let interval = try #require(Bootstrap.ratioOfMedians(before: before, after: after))
        #expect(interval[0] <= 1.2 + 1e-12 && 1.2 - 1e-12 <= interval[1])
        #expect(abs(interval[0] - 1.1880893300248139) <= 0.01)
        #expect(abs(interval[1] - 1.212012012012012) <= 0.01)
        // Every ratio is (median of after resample) / (median of before resample): within these bounds.
        let lowest = after.min()! / before.max()!, highest = after.max()! / before.min()!
        #expect(lowest <= interval[0] && interval[1] <= highest)
    }

    @Test func ratioIntervalNeedsTwoSamplesAndNonZeroMedians() {
        #expect(Bootstrap.ratioOfMedians(before: [1], after: [1, 2]) == nil)
        #expect(Bootstrap.ratioOfMedians(before: [1, 2], after: [3]) == nil)
        #expect(Bootstrap.ratioOfMedians(before: [0, 0, 1], after: [1, 2]) == nil)
        #expect(Bootstrap.ratioOfMedians(before: [1, 2], after: [0, 0, 1]) == nil)
        #expect(Bootstrap.medianInterval(of: [3]) == nil)
    }

    @Test func widerConfidenceGivesWiderInterval() throws {
        let narrow = try #require(Bootstrap.medianInterval(of: Self.samples, confidence: 0.5))
        let wide = try #require(Bootstrap.medianInterval(of: Self.samples, confidence: 0.99))
        #expect(wide[0] <= narrow[0] && narrow[1] <= wide[1])
    }

    /// `SplitMix64.nextIndex(below:)` draws what `Int.random(in: 0..<count, using:)` draws, also
    /// for bounds near 2^63 where Lemire's method rejects often.
    @Test func nextIndexDrawsWhatIntRandomDraws() {
        var reference = SplitMix64(seed: 3), ours = SplitMix64(seed: 3)
        var mismatches = 0
        for bound in [1, 2, 3, 7, 8, 10, 64, 1 << 40 + 7, Int.max / 3 * 2, Int.max] {
            for _ in 0..<1000 where Int.random(in: 0..<bound, using: &reference) != ours.nextIndex(below: bound) { mismatches += 1 }
        }
        #expect(mismatches == 0)
        #expect(reference == ours, "as many draws")
    }

    /// The tallied resample median equals the median of the sorted resample that the bootstrap
    /// computed before (kept here as the reference): same draws, same median, ties included; and
    /// with a NaN among the samples the resample is sorted as before.
    @Test func talliedResampleMediansAreTheSortedOnes() {
        var reference = SplitMix64(seed: 11), ours = SplitMix64(seed: 11)
        var mismatches = 0
        for count in [2, 3, 7, 8, 64, 65] {
            let sorted = (0..<count).map { Double(($0 * 7919) % 13) / 4 }.sorted()
            var buffer = sorted
            var resampler = Bootstrap.Resampler(sorted)
            for _ in 0..<2000 {
                for index in buffer.indices { buffer[index] = sorted[Int.random(in: 0..<count, using: &reference)] }
                buffer.sort()
                if resampler.median(using: &ours) != Summary.median(ofSorted: buffer) { mismatches += 1 }
            }
        }
        let withNaN = [1.0, .nan, 3, 2, .nan, 5, 4]
        var buffer = withNaN
        var resampler = Bootstrap.Resampler(withNaN)
        #expect(resampler.hasNaN)
        for _ in 0..<2000 {
            for index in buffer.indices { buffer[index] = withNaN[Int.random(in: 0..<withNaN.count, using: &reference)] }
            buffer.sort()
            if resampler.median(using: &ours).bitPattern != Summary.median(ofSorted: buffer).bitPattern { mismatches += 1 }
        }
        #expect(mismatches == 0)
        #expect(reference == ours, "as many draws")
    }
}
