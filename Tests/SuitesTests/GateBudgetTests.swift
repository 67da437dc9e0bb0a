import Foundation
import Results
import Pipeline
import Suites
import Testing
import TestSupport

/// `gate --budget`: which undecided metrics more repetitions can decide, and how a night grows.
@Suite("gate --budget")
struct GateBudgetTests {
    @Test(arguments: [("10m", 600.0), ("1.5min", 90.0), ("90s", 90.0), ("600", 600.0), ("250ms", 0.25)])
    func budgetsParse(text: String, seconds: Double) {
        #expect(GateBudget.seconds(parsing: text) == seconds)
    }

    @Test(arguments: ["0", "0m", "soon", "-1m", "", "10 minutes"])
    func badBudgetsDoNot(text: String) {
        #expect(GateBudget.seconds(parsing: text) == nil)
    }

    static func history(_ medians: [Double]) -> LoadedDocument {
        Fixtures.loaded(Fixtures.document([Fixtures.timeCase(vcpus: 1, samples: medians)]), label: "history")
    }

    static func night(_ samples: [Double]) -> LoadedDocument {
        Fixtures.loaded(Fixtures.document([Fixtures.timeCase(vcpus: 1, samples: samples)]), label: "tonight")
    }

    /// A 2% threshold that ten runs cannot rule in or out. When the night's repetitions spread far
    /// more than the runs' medians do, doubling them shrinks the decision's error: extended. When
    /// the runs' medians spread 10% and the night's repetitions agree to 0.5%, they cannot: told why.
    @Test func withinRunNoiseIsExtendedAndDriftBetweenRunsIsNot() throws {
        var settings = CompareSettings()
        settings.replication = .runs(runLimit: 10, look: RunLook(index: 1, sequential: true, historyRepetitions: 8))
        settings.threshold = 0.02
        let noisy = try Gate.evaluate(baseline: Self.history([100, 103, 97, 102, 98, 101, 99, 103.5, 96.5, 100]),
                                      result: Self.night([88, 112, 92, 108, 100, 95, 105, 90]), settings: settings)
        #expect(!GateBudget.undecided(noisy).isEmpty, "\(noisy.summaryLine)")
        let extend = GateBudget.casesToExtend(noisy)
        #expect(extend.keys == [Fixtures.timeCase(vcpus: 1).key] && extend.skipped.isEmpty, "\(extend)")

        let drifting = try Gate.evaluate(baseline: Self.history([100, 115, 88, 110, 92, 118, 85, 105, 95, 112]),
                                         result: Self.night([99.5, 100.5, 100, 99.8, 100.2, 100.1, 99.9, 100]), settings: settings)
        #expect(!GateBudget.undecided(drifting).isEmpty, "\(drifting.summaryLine)")
        let skip = GateBudget.casesToExtend(drifting)
        #expect(skip.keys.isEmpty)
        #expect(skip.skipped.count == 2 && skip.skipped.allSatisfy { $0.contains("runs vary as wholes") }, "\(skip.skipped)")
    }

    /// An extension's repetitions join the night's per-repetition metrics; a best-of figure and the
    /// cases not extended stay as they were.
    @Test func anExtensionJoinsTheNightsRepetitions() {
        var extended = Fixtures.timeCase(vcpus: 1, samples: [100, 101, 99])
        extended.metrics.append(Metric(name: "best_first_touch_time", unit: .seconds, better: .lower, samples: [99]))
        extended.measuringCPUs = [[0, 0], [1, 1], [0, 1]]
        let other = Fixtures.timeCase(vcpus: 2, samples: [50, 51, 49])
        var more = Fixtures.timeCase(vcpus: 1, samples: [102, 98, 100])
        more.metrics.append(Metric(name: "best_first_touch_time", unit: .seconds, better: .lower, samples: [98]))
        more.measuringCPUs = [[1, 1], [1, 1], [1, 1]]
        let merged = GateBudget.merge(Fixtures.document([more]), into: Fixtures.document([extended, other]), maxCV: 0.3)
        #expect(merged.cases[0].metric(named: "first_touch_time")?.samples == [100, 101, 99, 102, 98, 100])
        #expect(merged.cases[0].metric(named: "demand_paging_rate")?.samples.count == 6)
        #expect(merged.cases[0].metric(named: "best_first_touch_time")?.samples == [99])
        #expect(merged.cases[0].measuringCPUs?.count == 6)
        #expect(merged.cases[1] == other)
    }

    /// The next extension's cost: the planned warm-ups and repetitions at tonight's repetition time.
    @Test func anExtensionIsEstimatedFromTonightsRepetitionTimes() {
        var item = Fixtures.timeCase(vcpus: 1)
        item.metrics.append(Metric(name: "repetition_time", unit: .seconds, better: .lower, samples: [2, 3, 4]))
        let seconds = GateBudget.estimate(Fixtures.document([item]), keys: [item.key],
                                          settings: [.init(warmups: 1, repetitions: 8)])
        #expect(seconds == 27)
    }
}
