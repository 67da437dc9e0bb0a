import Foundation
import Pipeline
import Results
import Suites
import Testing
import TestSupport

/// `kvmbench ab`'s order of blocks and its verdict: side B against side A round by round
/// (`Replication.pairedRounds`), through the gate that judges nights.
@Suite("A/B in one boot: order and verdict")
struct ABVerdictTests {
    @Test func pairsOfRoundsMirrorEachOtherAndTheSeedRepeatsTheOrder() {
        for seed in UInt64(0)..<20 {
            let order = ABOrder(rounds: 6, seed: seed)
            #expect(order.blocks.count == 12)
            #expect(order == ABOrder(rounds: 6, seed: seed))
            for round in 0..<6 {
                // One block of each side per round.
                #expect(Set(order.blocks[2 * round...2 * round + 1]) == [.a, .b])
            }
            for pair in 0..<3 {
                // Round 2k+1 runs its sides in the other order than round 2k.
                #expect(order.blocks[4 * pair] == order.blocks[4 * pair + 3] && order.blocks[4 * pair + 1] == order.blocks[4 * pair + 2])
            }
            #expect(order.blocks.enumerated().filter { $0.offset % 2 == 0 && $0.element == .a }.count == 3, "A first in half the rounds")
        }
        #expect(Set((UInt64(0)..<20).map { ABOrder(rounds: 4, seed: $0).pattern }).count > 1, "the seed chooses the orientation")
        #expect(ABOrder(rounds: 3, seed: 5).blocks.count == 6)
        #expect(ABOrder(rounds: 4, seed: 5).pattern.split(separator: " ").filter { $0 != "|" }.count == 4)
    }

    /// A side's blocks become one document whose samples are the per-round medians, in round order.
    @Test func roundDocumentsHoldOneMedianPerRound() throws {
        let rounds = [[1.0, 2, 3], [10.0, 11, 30], [5.0, 5, 6]].map { Fixtures.document([Fixtures.timeCase(vcpus: 1, samples: $0)]) }
        let combined = try #require(RoundDocuments.combine(rounds, maxCV: 0.3))
        let metric = try #require(combined.cases.first?.metrics.first { $0.name == "first_touch_time" })
        #expect(metric.samples == [2, 11, 5])
        var failed = rounds
        failed[1].cases[0].status = .failed
        failed[1].cases[0].reason = "guest crashed"
        #expect(RoundDocuments.combine(failed, maxCV: 0.3)?.cases.first?.status == .failed)
    }

    static func side(_ medians: [Double]) -> LoadedDocument {
        var item = Fixtures.timeCase(vcpus: 1, samples: medians)
        item.metrics[1].samples = medians.map { 1e6 / $0 }
        return Fixtures.loaded(Fixtures.document([item]), label: "side")
    }

    static var settings: CompareSettings {
        var settings = CompareSettings()
        settings.replication = .pairedRounds(looks: 1)
        return settings
    }

    /// Rounds that drift by 40% while B is 20% slower than A in each: regressed (exit 2), where
    /// the same figures unpaired overlap; the same rounds with B = A pass.
    @Test func aSlowerSideRegressesThroughDriftAndAnEqualOnePasses() throws {
        let a = [100.0, 120, 140, 110, 130]
        let slower = try Gate.evaluate(baseline: Self.side(a), result: Self.side(a.map { $0 * 1.2 }), settings: Self.settings)
        #expect(slower.status == .regression, "\(slower.summaryLine)")
        #expect(slower.regressions.contains { $0.metric == "first_touch_time" && $0.pairedRounds?.rounds == 5 })
        let jitter = [1.004, 0.997, 1.002, 0.999, 1.001]
        let same = try Gate.evaluate(baseline: Self.side(a), result: Self.side(zip(a, jitter).map { $0 * $1 }), settings: Self.settings)
        #expect(same.status == .pass, "\(same.summaryLine)")
        #expect(same.report.comparison.metrics.filter(\.gate).allSatisfy { $0.verdict == .unchanged })
    }

    /// Two rounds that disagree cannot be decided: inconclusive (exit 5), never a pass.
    @Test func roundsThatDisagreeAreInconclusive() throws {
        let outcome = try Gate.evaluate(baseline: Self.side([100, 100]), result: Self.side([90, 125]), settings: Self.settings)
        #expect(outcome.status == .inconclusive, "\(outcome.summaryLine)")
    }
}
