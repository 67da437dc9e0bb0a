import Testing
@testable import Statistics

@Suite("ChangeDecision")
struct ChangeDecisionTests {
    /// Ten samples around 100 with well under 1% noise.
    static let before = [100.0, 101.2, 99.1, 100.6, 99.7, 100.9, 99.4, 100.3, 101.5, 99.8]
    static func shifted(_ factor: Double) -> [Double] { before.map { $0 * factor } }

    @Test func rawValuesAreTheDocumentedVerdictNames() {
        #expect(ChangeVerdict.allCases.map(\.rawValue)
            == ["improved", "regressed", "unchanged", "cannot-decide", "not-significant", "noisy"])
    }

    @Test func identicalSamplesAreUnchanged() {
        let decision = ChangeDecision(before: Self.before, after: Self.before, better: .lower)
        #expect(decision.verdict == .unchanged)
        #expect(decision.change == 0)
        #expect(decision.pValue == 1)
    }

    @Test func identicalSamplesWithoutSpreadAreUnchanged() {
        let decision = ChangeDecision(before: [100, 100, 100, 100, 100], after: [100, 100, 100, 100, 100], better: .lower)
        #expect(decision.verdict == .unchanged)
        #expect(decision.ratioInterval == [1, 1])
        let zeros = ChangeDecision(before: [0, 0, 0], after: [0, 0, 0], better: .higher)
        #expect(zeros.verdict == .unchanged)
        #expect(zeros.change == 0)
    }

    /// The p-value is `scipy.stats.mannwhitneyu(before, after, alternative='two-sided', method='exact')`.
    @Test(arguments: [(Polarity.lower, ChangeVerdict.regressed), (.higher, .improved)])
    func twentyPercentUp(better: Polarity, expected: ChangeVerdict) throws {
        let decision = ChangeDecision(before: Self.before, after: Self.shifted(1.2), better: better)
        #expect(decision.verdict == expected)
        #expect(abs(decision.change - 0.2) < 1e-12)
        let p = try #require(decision.pValue)
        #expect(abs(p - 1.082508822446903e-05) < 1e-15)
        let interval = try #require(decision.ratioInterval)
        #expect(interval[0] > 1.05 && interval[0] <= 1.2 && interval[1] >= 1.2)
        #expect(decision.explanation.contains("above 1.05"))
    }

    @Test(arguments: [(Polarity.lower, ChangeVerdict.improved), (.higher, .regressed)])
    func twentyPercentDown(better: Polarity, expected: ChangeVerdict) {
        let decision = ChangeDecision(before: Self.before, after: Self.shifted(0.8), better: better)
        #expect(decision.verdict == expected)
        #expect(decision.explanation.contains("below 0.95"))
    }

    @Test func heavyNoiseIsNoisy() {
        let noisy = [50.0, 150, 80, 120, 30, 170, 100, 90, 60, 140]
        #expect(ChangeDecision(before: noisy, after: Self.shifted(1.2), better: .lower).verdict == .noisy)
        let decision = ChangeDecision(before: Self.before, after: noisy, better: .lower)
        #expect(decision.verdict == .noisy)
        #expect(decision.pValue == nil)
        #expect(decision.explanation.hasPrefix("too noisy"))
    }

    @Test func maxCVIsConfigurable() {
        let spread = [80.0, 120, 90, 110, 100, 85, 115, 95, 105, 100]  // 1.4826 MAD / median = 14.8%
        #expect(ChangeDecision(before: spread, after: spread, better: .lower, maxCV: 0.1).verdict == .noisy)
        let decision = ChangeDecision(before: spread, after: spread, better: .lower)
        #expect(abs(decision.beforeSpread - 0.14826022185056020) < 1e-12)
        // Same samples, but a median ratio that could be anywhere in about ±10%: no evidence of "no change".
        #expect(decision.verdict == .cannotDecide)
        #expect(decision.explanation.contains("straddles"))
        #expect(ChangeDecision(before: spread, after: spread, better: .lower, threshold: 0.3).verdict == .unchanged)
    }

    /// One wild sample inflates sd / mean (to 68% here) but not the MAD: the rest of the rule uses
    /// medians, so the spread rule does too.
    @Test func oneOutlierDoesNotMakeASideNoisy() {
        var withOutlier = Self.before
        withOutlier[3] = 900
        #expect(Summary(samples: withOutlier, resamples: 0).coefficientOfVariation > 0.3)
        let decision = ChangeDecision(before: Self.before, after: withOutlier, better: .lower)
        #expect(decision.verdict != .noisy)
        #expect(decision.afterSpread < 0.02)
    }

    @Test func tooFewSamplesCannotBeDecided() {
        let decision = ChangeDecision(before: [100, 101], after: [120, 121], better: .lower)
        #expect(decision.verdict == .cannotDecide)
        #expect(decision.explanation.contains("too few samples to test: n=2 before, n=2 after"))
        #expect(decision.pValue == nil && decision.ratioInterval == nil)
        #expect(decision.detectableChange == nil)
        #expect(ChangeDecision(before: [100, 101], after: [101, 100.5], better: .lower).verdict == .cannotDecide)
        #expect(ChangeDecision(before: [100], after: [102], better: .higher).verdict == .cannotDecide)
    }

    @Test func anEmptySideCannotBeDecided() {
        #expect(ChangeDecision(before: [], after: [10, 11, 12], better: .lower).verdict == .cannotDecide)
        #expect(ChangeDecision(before: [10, 11, 12], after: [], better: .lower).verdict == .cannotDecide)
    }

    /// The case: a doctored 2x regression measured 3 times a side. 3 vs 3 cannot reach
    /// p < 0.05 (the smallest two-sided p is 2 / C(6, 3) = 0.1), so nothing can be shown, and the
    /// verdict says so instead of "unchanged" or "regressed".
    @Test func aTwofoldChangeAtThreeRepetitionsCannotBeDecided() {
        let before = [100.0, 101, 99]
        let decision = ChangeDecision(before: before, after: before.map { $0 * 2 }, better: .lower)
        #expect(decision.verdict == .cannotDecide)
        #expect(abs(decision.smallestPValue - 0.1) < 1e-15)
        #expect(decision.detectableChange == nil)
        #expect(decision.explanation.contains("smallest possible p is 0.1"))
        #expect(decision.explanation.contains("needs 4 per side"))
        // One more repetition a side and the same doubling is a regression.
        let four = [100.0, 101, 99, 100.5]
        #expect(ChangeDecision(before: four, after: four.map { $0 * 2 }, better: .lower).verdict == .regressed)
    }

    /// An interval like [0.7, 1.4] around a small change is not evidence of no change.
    @Test func aSmallChangeWithAWideIntervalCannotBeDecided() throws {
        let before = [100.0, 70, 130, 95, 105, 80, 120]
        let after = [102.0, 72, 128, 97, 104, 82, 118]
        let decision = ChangeDecision(before: before, after: after, better: .lower, maxCV: 1)
        #expect(abs(decision.change) <= 0.05)
        let interval = try #require(decision.ratioInterval)
        #expect(interval[0] < 0.95 && interval[1] > 1.05)
        #expect(decision.verdict == .cannotDecide)
        let detectable = try #require(decision.detectableChange)
        #expect(detectable > 0.2)
    }

    /// A real shift of about 6%: p is tiny, but the interval reaches inside the 5% threshold.
    @Test func significantButIntervalAcrossThresholdCannotBeDecided() throws {
        let decision = ChangeDecision(before: Self.before, after: Self.shifted(1.06), better: .lower)
        #expect(try #require(decision.pValue) < 0.05)
        let interval = try #require(decision.ratioInterval)
        #expect(interval[0] <= 1.05)
        #expect(decision.verdict == .cannotDecide)
        // With a 3% threshold the same samples are a regression.
        #expect(ChangeDecision(before: Self.before, after: Self.shifted(1.06), better: .lower,
                               threshold: 0.03).verdict == .regressed)
    }

    @Test func smallSignificantChangeWithinThresholdIsUnchanged() throws {
        let decision = ChangeDecision(before: Self.before, after: Self.shifted(1.02), better: .lower)
        #expect(try #require(decision.pValue) < 0.05)
        #expect(decision.verdict == .unchanged)
    }

    @Test func nonFiniteSamplesCannotBeDecided() {
        #expect(ChangeDecision(before: [1, 2, .nan], after: [1, 2, 3], better: .lower).verdict == .cannotDecide)
        #expect(ChangeDecision(before: [1, 2, 3], after: [1, .infinity, 3], better: .lower).verdict == .cannotDecide)
    }

    @Test func decisionIsReproducible() {
        let after = Self.shifted(1.07)
        #expect(ChangeDecision(before: Self.before, after: after, better: .higher)
            == ChangeDecision(before: Self.before, after: after, better: .higher))
    }
}
