import Pipeline
import Results
import Testing

@Suite("run order: the schedule of a plan's repetitions")
struct RunScheduleTests {
    static let settings = [RunSettings(warmups: 1, repetitions: 3), RunSettings(warmups: 0, repetitions: 2),
                           RunSettings(warmups: 2, repetitions: 3)]

    @Test func sequentialRunsEachCaseBackToBack() {
        let schedule = RunSchedule(settings: Self.settings, order: .sequential)
        #expect(schedule.repetitions.map(\.caseIndex) == [0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 2])
        #expect(schedule.repetitions.map(\.warmup) == [true, false, false, false, false, false, true, true, false, false, false])
        #expect(schedule.repetitions.filter { !$0.warmup }.map(\.number) == [1, 2, 3, 1, 2, 1, 2, 3])
        #expect(schedule.rounds == 3)
    }

    @Test func interleavedRoundsHoldOneRepetitionOfEveryCaseLeft() {
        let schedule = RunSchedule(settings: Self.settings, order: .interleaved(seed: 11))
        let measured = schedule.repetitions.filter { !$0.warmup }
        #expect(schedule.rounds == 3)
        for round in 1...3 {
            let cases = measured.filter { $0.round == round }.map(\.caseIndex)
            let expected: Set<Int> = round <= 2 ? [0, 1, 2] : [0, 2] // case 1 has two repetitions
            #expect(Set(cases) == expected && cases.count == expected.count, "round \(round): \(cases)")
            #expect(measured.filter { $0.round == round }.allSatisfy { $0.number == round })
        }
        // The rounds come one after the other, and every warm-up just before its case's first repetition.
        #expect(schedule.repetitions.map(\.round) == schedule.repetitions.map(\.round).sorted())
        for (position, item) in schedule.repetitions.enumerated() where item.warmup {
            let rest = schedule.repetitions[(position + 1)...].first { !$0.warmup || $0.caseIndex != item.caseIndex }
            #expect(rest?.caseIndex == item.caseIndex && rest?.number == 1 && rest?.warmup == false)
        }
        #expect(schedule.repetitions.count == Self.settings.reduce(0) { $0 + $1.warmups + $1.repetitions })
    }

    @Test func theSeedFixesTheOrderAndOtherSeedsGiveOtherOrders() {
        let many = (0..<12).map { _ in RunSettings(warmups: 0, repetitions: 8) }
        let one = RunSchedule(settings: many, order: .interleaved(seed: 42))
        #expect(one == RunSchedule(settings: many, order: .interleaved(seed: 42)))
        #expect(one.repetitions != RunSchedule(settings: many, order: .interleaved(seed: 43)).repetitions)
        // Rounds are not all in plan order (twelve cases in plan order eight times has probability 1/12!^8).
        let rounds = (1...8).map { round in one.repetitions.filter { $0.round == round }.map(\.caseIndex) }
        #expect(rounds.contains { $0 != Array(0..<12) })
        #expect(Set(rounds.map { $0 }).count > 1, "every round in the same order: \(rounds)")
    }

    @Test func theLastPositionOfEachCaseIsKnown() {
        let schedule = RunSchedule(settings: Self.settings, order: .interleaved(seed: 3))
        let lasts = schedule.repetitions.indices.filter(schedule.isLast)
        #expect(lasts.count == 3)
        #expect(Set(lasts.map { schedule.repetitions[$0].caseIndex }) == [0, 1, 2])
        for position in lasts {
            let item = schedule.repetitions[position]
            #expect(!item.warmup && item.number == Self.settings[item.caseIndex].repetitions)
        }
    }

    @Test func aSequentialOrderHasNoSeed() {
        #expect(RunOrder(kind: .sequential, seed: 5).seed == nil)
        #expect(RunOrder.interleaved(seed: 5).description == "interleaved (seed 5)")
    }

    @Test func theEstimateCountsTheRepetitionsLeftOfEveryCase() {
        // Nothing known before the first repetition; then this run's average per repetition.
        let estimate = RunEstimate(RunPlan(label: "x", cases: []), previous: [:])
        #expect(estimate.remaining(left: [2, 3], elapsed: 0, repetitionsDone: 0) == nil)
        let left = estimate.remaining(left: [2, 3], elapsed: 10, repetitionsDone: 5)
        #expect(left?.seconds == 10 && left?.basis == .thisRun)
        #expect(estimate.remaining(left: [0, 0], elapsed: 10, repetitionsDone: 5) == nil)
    }
}
