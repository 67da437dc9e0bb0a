import Harness
import Results

/// How long the rest of a run will take, for the progress line. A case's repetition takes what
/// the same case's repetitions took on this host before (the median `repetition_time` of its last
/// recorded run, from the history); a case never run here takes, per repetition, what this run's
/// repetitions have taken so far. Cases of one suite differ by orders of magnitude (a 64 MiB
/// first touch against 32k memslots), so an average over the cases done so far says "13 s left"
/// where minutes are: the estimate says which basis it used.
public struct RunEstimate: Sendable {
    /// Recorded on every repetition, never gated: the repetition from the start of its guest's
    /// construction to the end of its teardown, what the progress line's estimate is made of.
    public static let metric = MetricDefinition.seconds("repetition_time", gated: false)

    /// Seconds per repetition (warm-ups included) of each planned case, where this host's history has it.
    let known: [Double?]
    /// Repetitions (warm-ups included) of each planned case.
    let repetitions: [Int]

    /// `previous`: seconds per repetition by case key (`CaseResult.key`), from this host's history.
    public init(_ plan: RunPlan, previous: [String: Double]) {
        known = plan.cases.map { planned in
            previous[CaseResult(scenario: planned.name, parameters: planned.scenario.parameters).key]
        }
        repetitions = plan.cases.map { $0.settings.warmups + $0.settings.repetitions }
    }

    public enum Basis: Sendable, Equatable {
        /// Every remaining case has run on this host before.
        case history
        /// Some remaining cases are estimated from this run's own repetitions so far.
        case thisRun
    }

    /// Seconds left when case `index` starts in a sequential run, after `elapsed` seconds over
    /// `repetitionsDone` repetitions of the cases before it; nil when nothing is known yet.
    public func remaining(from index: Int, elapsed: Double, repetitionsDone: Int) -> (seconds: Double, basis: Basis)? {
        guard index < known.count else { return nil }
        let left = repetitions.indices.map { $0 < index ? 0 : repetitions[$0] }
        return remaining(left: left, elapsed: elapsed, repetitionsDone: repetitionsDone)
    }

    /// Seconds left with `left[i]` repetitions (warm-ups included) of case i still to run, after
    /// `elapsed` seconds over `repetitionsDone` repetitions; nil when nothing is known yet.
    public func remaining(left: [Int], elapsed: Double, repetitionsDone: Int) -> (seconds: Double, basis: Basis)? {
        guard left.contains(where: { $0 > 0 }) else { return nil }
        let observed = repetitionsDone > 0 ? elapsed / Double(repetitionsDone) : nil
        var seconds = 0.0
        var basis = Basis.history
        for (case_, count) in left.enumerated() where count > 0 {
            if case_ < known.count, let perRepetition = known[case_] {
                seconds += perRepetition * Double(count)
            } else if let observed {
                seconds += observed * Double(count)
                basis = .thisRun
            } else {
                return nil
            }
        }
        return (seconds, basis)
    }

    /// Repetitions (warm-ups included) of case `index`.
    public func repetitions(of index: Int) -> Int { index < repetitions.count ? repetitions[index] : 0 }
}
