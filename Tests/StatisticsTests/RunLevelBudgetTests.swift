import Foundation
import Testing
@testable import Statistics

/// `gate --budget`: a night extended past its history's repetitions, and the looks' alpha.
@Suite("RunLevelDecision with more repetitions than the history's runs")
struct RunLevelBudgetTests {
    /// Log medians -a, 0, a (s = a) and a night whose robust spread is known.
    static func decision(history a: Double, night: [Double], historyRepetitions: Int?, alpha: Double = 0.05) -> RunLevelDecision {
        RunLevelDecision(runMedians: [exp(-a), 1, exp(a), exp(-a / 2), exp(a / 2)].map { 100 * $0 }, after: night,
                         better: .lower, threshold: 0.10, alpha: alpha, historyRepetitions: historyRepetitions)
    }

    /// A night of `count` repetitions around 100 with relative MAD `mad`: half at 100(1-mad), half at 100(1+mad), one at 100.
    static func night(count: Int, mad: Double) -> [Double] {
        (0..<count).map { index in index == 0 ? 100 : (index % 2 == 0 ? 100 * (1 - mad) : 100 * (1 + mad)) }
    }

    @Test func asManyRepetitionsAsTheHistoryIsThePlainRule() {
        let plain = Self.decision(history: 0.05, night: Self.night(count: 9, mad: 0.04), historyRepetitions: nil)
        let same = Self.decision(history: 0.05, night: Self.night(count: 9, mad: 0.04), historyRepetitions: 9)
        #expect(plain.pValue == same.pValue && plain.detectableChange == same.detectableChange && plain.runsNeeded == same.runsNeeded)
    }

    /// When the runs vary mostly within themselves, doubling a night's repetitions shrinks what it
    /// can detect; when they vary as wholes, it barely moves; it never grows.
    @Test func moreRepetitionsHelpOnlyTheWithinRunPart() throws {
        // Within-run: the night's median has σ_w/√n₀ close to the history's spread.
        let spread = 0.03
        let withinNight = Self.night(count: 9, mad: 0.06)
        let planned = Self.decision(history: spread, night: withinNight, historyRepetitions: 9)
        let doubled = Self.decision(history: spread, night: Self.night(count: 17, mad: 0.06), historyRepetitions: 9)
        let before = try #require(planned.detectableChange), after = try #require(doubled.detectableChange)
        #expect(after < before, "\(before) -> \(after)")
        // The prediction interval (critical t times the standard error) narrows by a fifth.
        func width(_ decision: RunLevelDecision) throws -> Double {
            let interval = try #require(decision.ratioInterval)
            return log(interval[1]) - log(interval[0])
        }
        let narrow = try width(doubled), plainWidth = try width(planned)
        #expect(narrow < 0.85 * plainWidth, "\(plainWidth) -> \(narrow)")
        // The between-run part is what is left: the earlier runs' spread less the within-run part
        // at n (here tonight's repetitions say all of it: none is left).
        let within = doubled.withinRunSpread * doubled.withinRunSpread * 17 / 9
        let s = try #require(doubled.runSpread)
        #expect(abs((doubled.betweenRunSpread ?? -1) - max(0, s * s - within).squareRoot()) < 1e-12)

        // Between-run: a tight night in a history that varies by 10% from run to run.
        let wide = Self.decision(history: 0.10, night: Self.night(count: 9, mad: 0.005), historyRepetitions: 9)
        let wideDoubled = Self.decision(history: 0.10, night: Self.night(count: 17, mad: 0.005), historyRepetitions: 9)
        let gain = 1 - (wideDoubled.detectableChange ?? 0) / (wide.detectableChange ?? 1)
        #expect(gain >= 0 && gain < 0.01, "gain \(gain)")
    }

    /// A/A nights on synthetic series with known within- and between-run variances (log scale:
    /// run effect σ_b, repetition noise σ_w), judged at up to four looks, each adding the planned
    /// repetitions again while the night is undecided: the share of nights with any false alarm
    /// stays at or below alpha with alpha / 2^k per look (`RunLook`); the rate a fixed alpha per
    /// look would give is in the message for comparison.
    @Test(arguments: [(0.02, 0.08), (0.08, 0.02), (0.05, 0.05)])
    func sequentialNightsKeepTheFalseAlarmRate(between: Double, within: Double) {
        var rng = SplitMix64(seed: 2026)
        let trials = 1500, history = 10, repetitions = 8, alpha = 0.05
        func run(_ count: Int, effect: Double) -> [Double] {
            (0..<count).map { _ in 100 * exp(effect + within * rng.gaussian()) }
        }
        var alarms = 0, alarmsFixed = 0
        for _ in 0..<trials {
            let medians = (0..<history).map { _ in Summary.median(of: run(repetitions, effect: between * rng.gaussian())) }
            let nightEffect = between * rng.gaussian()
            var night = run(repetitions, effect: nightEffect)
            var alarmed = false, alarmedFixed = false
            for look in 1...4 {
                let spent = alpha / pow(2, Double(look))
                // threshold 0: every significant change is an alarm (the strictest reading).
                let decision = RunLevelDecision(runMedians: medians, after: night, better: .lower, threshold: 0,
                                                alpha: spent, maxCV: .infinity, historyRepetitions: repetitions)
                let fixed = RunLevelDecision(runMedians: medians, after: night, better: .lower, threshold: 0,
                                             alpha: alpha, maxCV: .infinity, historyRepetitions: repetitions)
                if [.regressed, .improved].contains(decision.verdict) { alarmed = true }
                if [.regressed, .improved].contains(fixed.verdict) { alarmedFixed = true }
                night += run(repetitions, effect: nightEffect)
            }
            if alarmed { alarms += 1 }
            if alarmedFixed { alarmsFixed += 1 }
        }
        let rate = Double(alarms) / Double(trials), fixedRate = Double(alarmsFixed) / Double(trials)
        // Three binomial standard errors of 1500 trials at 5%: 0.017.
        #expect(rate <= alpha + 0.017, "false alarms \(rate) with alpha/2^k (fixed alpha: \(fixedRate))")
    }
}
