import KVM
import Pipeline
import Results
@testable import Harness
@testable import Scenarios
import Testing
import TestSupport

@Suite("best of repetitions", .enabled(if: KVMSystem.isUsable(), "the case runner needs a host session on /dev/kvm: skipped"))
struct BestOfRepetitionsTests {
    /// memslots' `<test>.best` is the best repetition's average, as memslot_perf_test prints "best".
    @Test func theBestIsTheBestRepetitionsAverage() {
        var averages = [0.3, 0.1, 0.2].makeIterator()
        let result = CaseRunner.run(scenario: "memslots", parameters: [:], settings: RunSettings(warmups: 1, repetitions: 3),
                                    host: TestHost.session) { _ in
            var sample = Sample()
            sample.add(MemslotsScenario.metrics.average("map"), averages.next() ?? 9)
            sample.bestOfRepetitions["map.best"] = "map.average"
            return sample
        }
        // The warm-up took 0.3 and is discarded; the repetitions gave 0.1, 0.2 and 9.
        #expect(result.metric(named: "map.best")?.samples == [0.1])
        #expect(result.metric(named: "map.best")?.gate == false)
    }
}
