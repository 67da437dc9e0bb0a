import Foundation
import Testing
@testable import Statistics

@Suite("Power")
struct PowerTests {
    @Test func smallestPValueIsTwoOverTheNumberOfArrangements() {
        #expect(Power.smallestPValue(3, 3) == 0.1)  // 2 / C(6, 3)
        #expect(abs(Power.smallestPValue(4, 4) - 2.0 / 70) < 1e-15)
        #expect(abs(Power.smallestPValue(8, 8) - 2.0 / 12870) < 1e-15)
        #expect(Power.smallestPValue(1, 1) == 1)
        #expect(Power.smallestPValue(0, 5) == 1)
        #expect(Power.samplesNeeded(alpha: 0.05) == 4)
        #expect(Power.samplesNeeded(alpha: 0.01) == 5)  // 2 / C(10, 5) = 0.0079
    }

    /// `scipy.stats.mannwhitneyu(method="exact")` of fully separated samples reaches exactly the floor.
    @Test func theFloorIsWhatTheTestGivesForSeparatedSamples() {
        let p = MannWhitneyU.test([1, 2, 3, 4], [5, 6, 7, 8]).pValue
        #expect(abs(p - 0.02857142857142857) < 1e-12)  // scipy 1.17.1
        #expect(abs(p - Power.smallestPValue(4, 4)) < 1e-12)
    }

    /// `scipy.stats.norm.ppf` (scipy 1.17.1).
    @Test(arguments: [(0.5, 0.0), (0.8, 0.8416212335729143), (0.975, 1.959963984540054),
                      (0.995, 2.5758293035489004), (0.001, -3.090232306167813), (0.9999, 3.719016485455709)])
    func normalQuantileMatchesScipy(p: Double, expected: Double) {
        #expect(abs(Normal.quantile(p) - expected) < 1e-12)
    }

    /// `scipy.stats.median_abs_deviation(x, scale="normal")` (scipy 1.17.1).
    @Test(arguments: [([1.0, 2, 3, 4, 100], 1.482602218505602), ([10, 10.5, 9.5, 11, 10.2, 30], 0.741301109252801),
                      ([5, 5, 5], 0.0), ([1, 2], 0.741301109252801)])
    func scaledMADMatchesScipy(samples: [Double], expected: Double) {
        #expect(abs(Spread.scaledMAD(of: samples) - expected) < 1e-12)
    }

    @Test func detectableChangeFollowsTheFormula() throws {
        // se = sqrt(pi/2 * (0.05^2/8 * 2)); (1.05) * exp((1.96 + 0.8416) * se) - 1
        let detectable = try #require(Power.detectableChange(beforeSpread: 0.05, afterSpread: 0.05, beforeCount: 8,
                                                             afterCount: 8, threshold: 0.05, alpha: 0.05))
        let se = (Double.pi / 2 * 2 * 0.0025 / 8).squareRoot()
        #expect(abs(detectable - (1.05 * exp((1.959963984540054 + 0.8416212335729143) * se) - 1)) < 1e-9)
        #expect(Power.detectableChange(beforeSpread: 0.05, afterSpread: 0.05, beforeCount: 3, afterCount: 3,
                                       threshold: 0.05, alpha: 0.05) == nil)
        // No spread: the threshold itself.
        #expect(Power.detectableChange(beforeSpread: 0, afterSpread: 0, beforeCount: 5, afterCount: 5,
                                       threshold: 0.1, alpha: 0.05).map { abs($0 - 0.1) < 1e-12 } == true)
        // More samples, smaller detectable change.
        let more = try #require(Power.detectableChange(beforeSpread: 0.05, afterSpread: 0.05, beforeCount: 32,
                                                       afterCount: 32, threshold: 0.05, alpha: 0.05))
        #expect(more < detectable)
        #expect(Power.samplesNeeded(toDetect: more, spread: 0.05, threshold: 0.05, alpha: 0.05) == 32)
        #expect(Power.samplesNeeded(toDetect: 0.05, spread: 0.05, threshold: 0.05, alpha: 0.05, limit: 500) == nil)
    }

    /// The detectable change is what the rule really catches about 80% of the time: simulate normal
    /// samples with a 4% spread, 10 a side, shifted by the detectable change (and by half of what it
    /// adds to the threshold, which must be caught clearly less often).
    @Test func theRuleCatchesTheDetectableChangeAboutFourTimesInFive() throws {
        let (spread, count, threshold) = (0.04, 10, 0.05)
        let detectable = try #require(Power.detectableChange(beforeSpread: spread, afterSpread: spread, beforeCount: count,
                                                             afterCount: count, threshold: threshold, alpha: 0.05))
        var rng = SplitMix64(seed: 42)
        func normal() -> Double {
            let u1 = Double.random(in: Double.ulpOfOne..<1, using: &rng), u2 = Double.random(in: 0..<1, using: &rng)
            return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
        }
        func rate(_ change: Double, trials: Int = 150) -> Double {
            var caught = 0
            for _ in 0..<trials {
                let before = (0..<count).map { _ in 100 * (1 + spread * normal()) }
                let after = (0..<count).map { _ in 100 * (1 + change) * (1 + spread * normal()) }
                let decision = ChangeDecision(before: before, after: after, better: .lower, threshold: threshold,
                                              resamples: 500)
                if decision.verdict == .regressed { caught += 1 }
            }
            return Double(caught) / Double(trials)
        }
        let atDetectable = rate(detectable)
        #expect(atDetectable > 0.6 && atDetectable < 0.97, "caught \(atDetectable) at +\(detectable)")
        let halfway = rate(threshold + (detectable - threshold) / 2)
        #expect(halfway < atDetectable - 0.15, "caught \(halfway) halfway")
    }
}
