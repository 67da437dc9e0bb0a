import Foundation
import Testing
@testable import Statistics

@Suite("RunLevelDecision")
struct RunLevelDecisionTests {
    /// `scipy.stats.t.ppf(p, df)`.
    @Test(arguments: [(0.975, 4.0, 2.7764451051977934), (0.8, 9.0, 0.8834038596855346),
                      (0.995, 2.0, 9.924843200918287), (0.05, 7.0, -1.8945786050900066),
                      (0.975, 1.0, 12.706204736174694)])
    func studentQuantileMatchesScipy(p: Double, df: Double, expected: Double) {
        #expect(abs(StudentT.quantile(p, degreesOfFreedom: df) - expected) < 1e-9)
    }

    /// `statsmodels.stats.multitest.multipletests(p, method="holm")[1]`.
    @Test func holmMatchesStatsmodels() {
        let first = Holm.adjusted([0.01, 0.04, 0.03, 0.005])
        for (value, expected) in zip(first, [0.03, 0.06, 0.06, 0.02]) { #expect(abs(value - expected) < 1e-12) }
        let second = Holm.adjusted([0.2, 0.001, 0.049, 0.7, 0.012])
        for (value, expected) in zip(second, [0.4, 0.005, 0.147, 0.7, 0.048]) { #expect(abs(value - expected) < 1e-12) }
        #expect(Holm.adjusted([]) == [])
    }

    /// Five earlier runs and a new run at 112: the t statistic, p, typical run and prediction interval
    /// are numpy/scipy's (`t = (log 112 - mean) / (s √(1 + 1/5))`, `2 * t.sf(|t|, 4)`).
    @Test func predictionTestMatchesScipy() throws {
        let decision = RunLevelDecision(runMedians: [100, 104, 98, 101, 97], after: [112, 112.5, 111.5],
                                        better: .lower, threshold: 0.10)
        let p = try #require(decision.pValue)
        #expect(abs(p - 0.019023534380975517) < 1e-9)
        #expect(abs(decision.beforeMedian - 99.97018702903415) < 1e-9)
        let interval = try #require(decision.ratioInterval)
        #expect(abs(interval[0] - 1.031189280291046) < 1e-9)
        #expect(abs(interval[1] - 1.2171851535079357) < 1e-9)
        #expect(decision.verdict == .regressed)
        #expect(decision.runs == 5)
    }

    @Test func aSignificantChangeBelowTheThresholdIsNotARegression() {
        let decision = RunLevelDecision(runMedians: [100, 100.2, 99.8, 100.1, 99.9, 100], after: [103, 103, 103],
                                        better: .lower, threshold: 0.10)
        #expect((decision.pValue ?? 1) < 0.05)
        #expect(decision.verdict == .unchanged)
    }

    @Test func polarityDecidesTheDirection() {
        let history = [100.0, 101, 99, 100.5, 99.5, 100]
        #expect(RunLevelDecision(runMedians: history, after: [80, 80, 80], better: .higher, threshold: 0.1).verdict == .regressed)
        #expect(RunLevelDecision(runMedians: history, after: [80, 80, 80], better: .lower, threshold: 0.1).verdict == .improved)
    }

    @Test func tooFewRunsIsCollecting() {
        let decision = RunLevelDecision(runMedians: [100, 120], after: [300, 300, 300], better: .lower, threshold: 0.1)
        #expect(decision.isCollecting)
        #expect(decision.verdict == .cannotDecide)
        #expect(decision.pValue == nil)
        #expect(decision.explanation.contains("collecting history: 2 of at least 3"))
    }

    /// Log medians -a, 0, a have s = a exactly; scipy: the smallest N with
    /// t.ppf(0.975, N-1) · s · √(1 + 1/N) ≤ log 1.1 is 5 for s = 0.03, 10 for 0.04, 4 for 0.02.
    @Test(arguments: [(0.03, 5), (0.04, 10), (0.02, 4)])
    func runsNeededFollowsFromTheSpread(spread: Double, expected: Int) {
        let history = [-spread, 0, spread].map { 100 * exp($0) }
        let decision = RunLevelDecision(runMedians: history, after: [100, 100, 100], better: .lower, threshold: 0.1)
        #expect(decision.runsNeeded == expected)
        #expect(abs((decision.runSpread ?? 0) - spread) < 1e-12)
    }

    /// numpy: K = 3, s = 0.03: exp(max(log 1.1 + t.ppf(.8, 2) se, (t.ppf(.975, 2) + t.ppf(.8, 2)) se)) - 1.
    @Test func detectableChangeIncludesTheBetweenRunSpread() throws {
        let history = [-0.03, 0, 0.03].map { 100 * exp($0) }
        let decision = RunLevelDecision(runMedians: history, after: [100, 100, 100], better: .lower, threshold: 0.1)
        #expect(abs(try #require(decision.detectableChange) - 0.20417009141344677) < 1e-9)
        #expect(decision.verdict == .cannotDecide)
    }

    @Test func aNoisyRunIsNoisy() {
        let decision = RunLevelDecision(runMedians: [100, 101, 99, 100], after: [50, 100, 150, 200, 60],
                                        better: .lower, threshold: 0.1)
        #expect(decision.verdict == .noisy)
    }

    @Test func anAdjustedPCanTakeASignificanceBack() {
        var decision = RunLevelDecision(runMedians: [100, 104, 98, 101, 97], after: [112, 112, 112],
                                        better: .lower, threshold: 0.10)
        #expect(decision.verdict == .regressed)
        decision.decide(p: 0.2)
        #expect(decision.verdict == .cannotDecide)
        #expect(decision.explanation.contains("adjusted 0.2"))
    }

    // MARK: synthetic series with known within- and between-run variances

    /// Runs of `repetitions` samples: log sample = log 100 + shift + b + e, b ~ N(0, between²)
    /// per run, e ~ N(0, within²) per repetition.
    struct Simulator {
        var rng: SplitMix64
        let between: Double, within: Double, repetitions: Int

        mutating func normal() -> Double { rng.gaussian() }

        mutating func run(shift: Double = 0) -> [Double] {
            let b = between * normal()
            return (0..<repetitions).map { _ in 100 * exp(shift + b + within * normal()) }
        }
    }

    /// With nothing changed, the run-level test says "changed" (either way, threshold 0) in about
    /// alpha of the nights, whatever the between-run part; pooling the earlier runs' repetitions as
    /// if they were independent (what the gate did before) says it in far more.
    @Test func aaFalseAlarmRateIsAlphaWithTheRunAsTheUnit() {
        var simulator = Simulator(rng: SplitMix64(seed: 7), between: 0.05, within: 0.01, repetitions: 8)
        let nights = 2000
        var alarms = 0, pooledAlarms = 0
        for night in 0..<nights {
            let history = (0..<10).map { _ in simulator.run() }
            let tonight = simulator.run()
            let decision = RunLevelDecision(runMedians: history.map { Summary.median(of: $0) }, after: tonight,
                                            better: .lower, threshold: 0)
            if decision.verdict == .regressed || decision.verdict == .improved { alarms += 1 }
            if night < 200 {
                let pooled = ChangeDecision(before: history.flatMap { $0 }, after: tonight, better: .lower, threshold: 0,
                                            resamples: 200)
                if pooled.verdict == .regressed || pooled.verdict == .improved { pooledAlarms += 1 }
            }
        }
        let rate = Double(alarms) / Double(nights)
        #expect(rate > 0.03 && rate < 0.07, "A/A alarm rate \(rate), expected about 0.05")
        #expect(Double(pooledAlarms) / 200 > 0.3, "pooled repetitions alarmed in \(pooledAlarms) of 200 nights")
    }

    /// The between-run part is recovered: the mean of σ_b² estimates is near the true 0.04², and
    /// the within-run part near 0.01 / √8.
    @Test func theVarianceComponentsAreRecovered() {
        var simulator = Simulator(rng: SplitMix64(seed: 11), between: 0.04, within: 0.01, repetitions: 8)
        var betweenSquares = 0.0, within = 0.0
        let nights = 1000
        for _ in 0..<nights {
            let history = (0..<10).map { _ in Summary.median(of: simulator.run()) }
            let decision = RunLevelDecision(runMedians: history, after: simulator.run(), better: .lower, threshold: 0.1)
            betweenSquares += pow(decision.betweenRunSpread ?? .nan, 2)
            within += decision.withinRunSpread
        }
        let between = (betweenSquares / Double(nights)).squareRoot()
        #expect(abs(between - 0.04) < 0.004, "between-run estimate \(between)")
        // The median of 8 normal samples has standard error about √(π/2) σ / √8.
        #expect(abs(within / Double(nights) - (Double.pi / 2).squareRoot() * 0.01 / 8.0.squareRoot()) < 0.0015)
    }

    /// A real 25% slowdown on a host whose runs drift by 3% is caught in most nights, at the
    /// 10% threshold, with ten earlier runs.
    @Test func aRealRegressionIsSeen() {
        var simulator = Simulator(rng: SplitMix64(seed: 3), between: 0.03, within: 0.01, repetitions: 8)
        var caught = 0
        for _ in 0..<500 {
            let history = (0..<10).map { _ in Summary.median(of: simulator.run()) }
            let decision = RunLevelDecision(runMedians: history, after: simulator.run(shift: log(1.25)),
                                            better: .lower, threshold: 0.1)
            if decision.verdict == .regressed { caught += 1 }
        }
        #expect(caught > 450, "caught \(caught) of 500")
    }
}
