import Foundation
import Testing
@testable import Statistics

@Suite("PairedRoundsDecision")
struct PairedRoundsDecisionTests {
    /// p, change and the 95% interval of B/A from scipy: `ttest_rel(log(b), log(a))`,
    /// `exp(mean(d)) - 1` and `exp(mean(d) ± t.ppf(0.975, R-1) · sd(d)/√R)`.
    @Test(arguments: [
        ([100.0, 104, 97, 101, 99], [101.0, 103, 98, 100, 100], 0.6847354359878742, 0.0021312529195567365, 0.9886642459763603, 1.0157816995661169),
        ([10.0, 10.5, 9.8, 10.2], [11.6, 12.1, 11.5, 11.9], 3.7365057649758074e-05, 0.16310294050254304, 1.1488157512461552, 1.1775678116688684),
        ([50.0, 60, 70, 80, 90, 100], [52.0, 63, 73, 84, 94, 105], 1.4571358355102277e-06, 0.046209277215117917, 1.0416178471798234, 1.0508209461795226),
    ])
    func matchesScipysPairedTTest(a: [Double], b: [Double], p: Double, change: Double, low: Double, high: Double) throws {
        let decision = PairedRoundsDecision(a: a, b: b, better: .lower, threshold: 0.05)
        #expect(abs(try #require(decision.pValue) - p) < 1e-9 * max(1, p / 1e-6))
        #expect(abs(decision.change - change) < 1e-12)
        let interval = try #require(decision.ratioInterval)
        #expect(abs(interval[0] - low) < 1e-9 && abs(interval[1] - high) < 1e-9)
    }

    @Test func verdictsFollowTheThresholdAndPolarity() {
        let aa = PairedRoundsDecision(a: [100, 104, 97, 101, 99], b: [101, 103, 98, 100, 100], better: .lower, threshold: 0.05)
        #expect(aa.verdict == .unchanged, "\(aa.explanation)")
        let slower = PairedRoundsDecision(a: [10, 10.5, 9.8, 10.2], b: [11.6, 12.1, 11.5, 11.9], better: .lower, threshold: 0.10)
        #expect(slower.verdict == .regressed, "\(slower.explanation)")
        let faster = PairedRoundsDecision(a: [10, 10.5, 9.8, 10.2], b: [11.6, 12.1, 11.5, 11.9], better: .higher, threshold: 0.10)
        #expect(faster.verdict == .improved)
        // Rounds drifting 50 -> 100 and B 4.6% above A in each: the pairing sees through the drift;
        // significant, but under a 10% threshold and ruled out past it.
        let drifting = PairedRoundsDecision(a: [50, 60, 70, 80, 90, 100], b: [52, 63, 73, 84, 94, 105], better: .lower, threshold: 0.10)
        #expect(drifting.verdict == .unchanged, "\(drifting.explanation)")
        // Two rounds that disagree: nothing can be said, and more rounds are named.
        let unsure = PairedRoundsDecision(a: [100, 100], b: [95, 120], better: .lower, threshold: 0.10)
        #expect(unsure.verdict == .cannotDecide)
        #expect((unsure.roundsNeeded ?? 0) > 2, "\(unsure.explanation)")
        let one = PairedRoundsDecision(a: [100], b: [150], better: .lower, threshold: 0.10)
        #expect(one.verdict == .cannotDecide && one.pValue == nil)
    }

    /// A Holm-adjusted p above alpha takes a significant regression back to undecided.
    @Test func anAdjustedPReplacesTheRawOne() {
        var decision = PairedRoundsDecision(a: [10, 10.5, 9.8, 10.2], b: [11.6, 12.1, 11.5, 11.9], better: .lower, threshold: 0.10)
        decision.decide(p: 0.2)
        #expect(decision.verdict != .regressed)
        #expect(decision.explanation.contains("adjusted 0.2"))
    }

    /// Rounds of a drifting host (each round's level drawn anew, sd 15%, the two blocks of a round
    /// 2% apart by noise): with nothing changed the paired test calls a change (threshold 0) in
    /// about alpha of the experiments; a 10% slowdown is caught in nearly all with 4 rounds.
    @Test func falseAlarmsStayNearAlphaAndATenPercentSlowdownIsCaught() {
        var rng = SplitMix64(seed: 11)
        func normal() -> Double { rng.gaussian() }
        func experiment(shift: Double, rounds: Int) -> (a: [Double], b: [Double]) {
            var a: [Double] = [], b: [Double] = []
            for _ in 0..<rounds {
                let level = 0.15 * normal()
                a.append(100 * exp(level + 0.02 * normal()))
                b.append(100 * exp(level + shift + 0.02 * normal()))
            }
            return (a, b)
        }
        let trials = 2000
        var alarms = 0, caught = 0
        for _ in 0..<trials {
            let same = experiment(shift: 0, rounds: 4)
            let verdict = PairedRoundsDecision(a: same.a, b: same.b, better: .lower, threshold: 0).verdict
            if verdict == .regressed || verdict == .improved { alarms += 1 }
            let slow = experiment(shift: log(1.10), rounds: 4)
            if PairedRoundsDecision(a: slow.a, b: slow.b, better: .lower, threshold: 0.05).verdict == .regressed { caught += 1 }
        }
        let rate = Double(alarms) / Double(trials)
        #expect(rate > 0.03 && rate < 0.07, "A/A false-alarm rate \(rate)")
        #expect(Double(caught) / Double(trials) > 0.9, "caught \(caught) of \(trials)")
    }

    /// `kvmbench ab --max-rounds`: judged after 4 rounds, then after every further pair up to 12
    /// (5 looks) while undecided. Testing every look at alpha calls an A/A run changed far more
    /// often than alpha; at alpha / looks (Bonferroni over the looks) the whole run stays within it.
    @Test func sequentialLooksAtAlphaOverLooksKeepTheFalseAlarmRate() {
        var rng = SplitMix64(seed: 23)
        func normal() -> Double { rng.gaussian() }
        let trials = 2000, looks = [4, 6, 8, 10, 12]
        var naive = 0, corrected = 0
        for _ in 0..<trials {
            var a: [Double] = [], b: [Double] = []
            for _ in 0..<12 {
                let level = 0.15 * normal()
                a.append(100 * exp(level + 0.02 * normal()))
                b.append(100 * exp(level + 0.02 * normal()))
            }
            func alarm(alpha: Double) -> Bool {
                looks.contains { n in
                    let verdict = PairedRoundsDecision(a: Array(a.prefix(n)), b: Array(b.prefix(n)), better: .lower,
                                                       threshold: 0, alpha: alpha).verdict
                    return verdict == .regressed || verdict == .improved
                }
            }
            if alarm(alpha: 0.05) { naive += 1 }
            if alarm(alpha: 0.05 / Double(looks.count)) { corrected += 1 }
        }
        #expect(Double(naive) / Double(trials) > 0.08, "every look at alpha: \(naive) of \(trials)")
        #expect(Double(corrected) / Double(trials) <= 0.05, "alpha / looks: \(corrected) of \(trials)")
    }
}
