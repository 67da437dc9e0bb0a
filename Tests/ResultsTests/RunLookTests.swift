import Results
import Testing

@Suite("gate --budget: the looks' alpha")
struct RunLookTests {
    @Test func sequentialLooksSpendAlphaGeometrically() {
        #expect(Replication.runs(runLimit: 10).alpha(0.05) == 0.05, "a plain night is looked at once, at alpha")
        let first = RunLook(index: 1, sequential: true, historyRepetitions: 8)
        #expect(first.alpha(0.05) == 0.025)
        #expect(first.next.alpha(0.05) == 0.0125)
        #expect(first.next.next.index == 3 && first.next.historyRepetitions == 8)
        #expect(Replication.runs(runLimit: 10, look: first.next).alpha(0.05) == 0.0125)
        // However many looks a budget allows, their alphas sum to less than alpha.
        let total = (1...20).reduce(0.0) { $0 + RunLook(index: $1, sequential: true).alpha(0.05) }
        #expect(total < 0.05)
    }
}
