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
}
