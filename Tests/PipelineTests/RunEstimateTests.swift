import Harness
import Pipeline
import Results
import Scenarios
import Testing

/// The progress line's time left: from this host's earlier repetitions of the same cases, else
/// (said so) from this run's own repetitions.
@Suite("the time a run has left")
struct RunEstimateTests {
    static let limits = HostLimits(maxVCPUs: 1024, memslots: 32764, memAvailable: nil)

    /// Two demand-paging cases (vcpus 1 and 2), 1 warm-up and 4 repetitions each.
    static func plan() throws -> RunPlan {
        try RunPlan.scenario(DemandPagingScenario.self, lists: ["vcpus": ["1", "2"]],
                             settings: RunSettings(warmups: 1, repetitions: 4), limits: limits)
    }

    static func key(_ planned: PlannedCase) -> String {
        CaseResult(scenario: planned.name, parameters: planned.scenario.parameters).key
    }

    @Test("cases recorded on this host: their repetition times, warm-ups included")
    func fromHistory() throws {
        let plan = try Self.plan()
        let estimate = RunEstimate(plan, previous: [Self.key(plan.cases[0]): 2, Self.key(plan.cases[1]): 10])
        let start = try #require(estimate.remaining(from: 0, elapsed: 0, repetitionsDone: 0))
        #expect(start.seconds == 5 * 2 + 5 * 10)
        #expect(start.basis == .history)
        // After the first case, however long it really took, the second's own history counts.
        let second = try #require(estimate.remaining(from: 1, elapsed: 3, repetitionsDone: 5))
        #expect(second.seconds == 50)
    }

    @Test("a case new to this host: nothing before the first repetitions, then this run's rate, marked rough")
    func fromThisRun() throws {
        let plan = try Self.plan()
        let estimate = RunEstimate(plan, previous: [Self.key(plan.cases[0]): 2])
        #expect(estimate.remaining(from: 0, elapsed: 0, repetitionsDone: 0) == nil, "no rate to go on before any repetition")
        #expect(RunEstimate(plan, previous: [:]).remaining(from: 0, elapsed: 0, repetitionsDone: 0) == nil)
        // 5 repetitions took 15 s: the unknown second case is 5 x 3 s.
        let left = try #require(estimate.remaining(from: 1, elapsed: 15, repetitionsDone: 5))
        #expect(left.seconds == 15)
        #expect(left.basis == .thisRun)
    }

    @Test("the old estimate's failure: a slow case after fast ones is not averaged away")
    func slowCaseAfterFastOnes() throws {
        let plan = try Self.plan()
        // The first case took 1 s per repetition, the second takes 60 s per repetition here.
        let estimate = RunEstimate(plan, previous: [Self.key(plan.cases[0]): 1, Self.key(plan.cases[1]): 60])
        let left = try #require(estimate.remaining(from: 1, elapsed: 5, repetitionsDone: 5))
        #expect(left.seconds == 300, "averaging the finished cases would have said 5 s")
    }
}
