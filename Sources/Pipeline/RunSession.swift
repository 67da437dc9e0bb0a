import Backings
import Dispatch
import Foundation
import Glibc
import Host
import Results
import Harness
import Scenarios
import Synchronization

/// Reports what a run is doing: a live line on a terminal, one plain line per case elsewhere.
public protocol ProgressReporter: Sendable {
    /// Before the first case: how long each planned case is expected to take.
    func runStarted(_ estimate: RunEstimate)
    /// Before each warm-up or repetition (a case's first, and every one after another case's).
    func caseStarted(_ position: RunPosition, scenario: String, parameters: [String: String])
    func step(_ text: String)
    /// After a case's last repetition: `seconds` is what its warm-ups and repetitions took.
    func caseFinished(_ result: CaseResult, index: Int, total: Int, seconds: Double)
    func notice(_ text: String)
}

/// One kvmbench invocation's run of cases: measures them in order on one host session, and
/// rewrites the result document atomically after every case, so an interrupted run keeps what it
/// measured. Every write of the document goes through this session (`append`, `amend`, `finish`,
/// the interrupt); a failed write is reported on stderr and kept in `writeFailures`.
///
/// SIGINT and SIGTERM are caught: the document written so far is marked interrupted and written
/// once more, hugepage pools are restored, and the process exits with 128 + the signal number.
/// A second signal while that is under way exits at once, still restoring the pools (`InterruptGuard`).
public final class RunSession: Sendable {
    private struct State {
        var document: ResultDocument
        var outputs: [URL]
        var writeFailures: [String] = []
        /// The cases under way by plan index, with their finished repetitions.
        var running: [Int: CaseResult] = [:]
        /// The plan index of each of `document.cases` (kept in plan order).
        var finishedIndices: [Int] = []
        /// The document as written: the finished cases and those under way, in plan order.
        var written: ResultDocument {
            guard !running.isEmpty else { return document }
            var out = document
            let items = zip(finishedIndices, document.cases).map { ($0, $1) } + running.map { ($0.key, $0.value) }
            out.cases = items.sorted { $0.0 < $1.0 }.map(\.1)
            return out
        }
    }
    private let state: Mutex<State>
    /// The host every case's VMs are created on.
    public let host: HostSession
    /// `--case-timeout`: the watchdog limit handed to every repetition.
    public let timeoutSeconds: Double

    public init(host: HostSession, tool: ToolInfo, suite: SuiteRecord? = nil, outputs: [URL],
                timeoutSeconds: Double = CaseContext.defaultTimeoutSeconds) {
        self.host = host
        self.timeoutSeconds = timeoutSeconds
        state = Mutex(State(document: ResultDocument(kvmbench: tool, host: host.fingerprint, suite: suite), outputs: outputs))
    }

    /// Installs the SIGINT/SIGTERM handlers for the lifetime of the session.
    public func handleSignals() {
        InterruptGuard.install { [self] signalNumber in self.interrupt(signal: signalNumber) }
    }

    private func interrupt(signal signalNumber: Int32) {
        FileHandle.standardError.write(Data("\nkvmbench: interrupted by signal \(signalNumber); writing the results measured so far and restoring the host (a second signal exits at once)\n".utf8))
        // Fault injection for tests: an orderly shutdown that never finishes (as when a write
        // blocks), which only the second signal can end.
        if ProcessInfo.processInfo.environment["KVMBENCH_TEST_STALL_ON_INTERRUPT"] != nil {
            while true { sleep(3600) }
        }
        state.withLock { state in
            state.document.interrupted = true
            state.document.finishedAt = Date()
            Self.write(&state)
        }
        HostChangeLedger.restoreOwn() // every kind: hugepage pools, a positive control's tracefs settings
        exit(128 + signalNumber)
    }

    /// Runs every warm-up and repetition of `plan` in the plan's order (`RunOrder`: each case's
    /// back to back, or rounds in a seeded order). Every repetition also records `host_busy` (see
    /// `HostLoad`) and `repetition_time`, every metric gets its `summary`, and a gated metric whose
    /// coefficient of variation is above the plan's `maxCV` makes a "noisy: ..." note. What a case
    /// set up on the host for itself (hugepage pools, a memory cgroup) is undone whenever the next
    /// repetition belongs to another case. When every case has finished, each scenario adds the
    /// metrics that exist only over several cases (`Scenario.deriveMetrics`). The document lists
    /// the cases in plan order whatever the order they ran in. Returns the finished document.
    ///
    /// `previous` (seconds per repetition by case key, from this host's history) feeds the
    /// progress line's estimate of the time left.
    @discardableResult
    public func run(_ plan: RunPlan, progress: any ProgressReporter, previous: [String: Double] = [:]) -> ResultDocument {
        for notice in plan.notices { progress.notice(notice) }
        state.withLock { $0.document.order = plan.order }
        let estimate = RunEstimate(plan, previous: previous)
        progress.runStarted(estimate)
        let cases = plan.cases
        let schedule = RunSchedule(settings: cases.map(\.settings), order: plan.order)
        var runs = cases.map { CaseRun(scenario: $0.name, parameters: $0.scenario.parameters, settings: $0.settings) }
        var left = cases.map { $0.settings.warmups + $0.settings.repetitions }
        var repetitionsDone = 0
        var begun = Set<Int>()
        let started = MonotonicClock.now()
        for (slot, item) in schedule.repetitions.enumerated() {
            let index = item.caseIndex
            let scenario = cases[index].scenario
            let firstOfCase = begun.insert(index).inserted
            if !runs[index].isOver {
                let position = RunPosition(index: index, total: cases.count, round: item.round, rounds: schedule.rounds,
                                           interleaved: plan.order.kind == .interleaved, firstOfCase: firstOfCase,
                                           left: estimate.remaining(left: left, elapsed: MonotonicClock.seconds(since: started),
                                                                    repetitionsDone: repetitionsDone))
                progress.caseStarted(position, scenario: type(of: scenario).name, parameters: scenario.parameters)
                if firstOfCase { for notice in scenario.notices { progress.notice(notice) } }
                progress.step(item.progressText(of: cases[index].settings))
                runs[index].runOnce(warmup: item.warmup, host: host, timeoutSeconds: timeoutSeconds) { context in
                    // How busy the rest of the host was during this repetition (outside every timed region).
                    let load = HostLoad.snapshot()
                    let started = MonotonicClock.now()
                    var sample = try scenario.measure(in: context)
                    sample.add(RunEstimate.metric, MonotonicClock.seconds(since: started))
                    if let busy = load.othersPercent() {
                        sample.add(HostLoad.metric, busy)
                    }
                    return sample
                }
                if !item.warmup, !runs[index].isOver { recordRepetition(runs[index].partial, at: index, maxCV: plan.maxCV) }
                repetitionsDone += 1
            }
            left[index] -= 1
            let nextIsOther = slot + 1 == schedule.repetitions.count || schedule.repetitions[slot + 1].caseIndex != index
            if nextIsOther { HostChangeLedger.restoreOwn(kinds: HostChangeKind.perCase) }
            if schedule.isLast(slot) {
                var result = runs[index].finished
                for notice in scenario.notices where !result.notes.contains(notice) { result.notes.append(notice) }
                result.summarise(maxCV: plan.maxCV)
                progress.caseFinished(result, index: index, total: cases.count, seconds: runs[index].seconds)
                finishCase(result, at: index)
            }
        }
        deriveMetrics(for: plan.scenarioTypes, maxCV: plan.maxCV)
        return finish()
    }

    /// Lets each scenario of the run add its metrics over several cases, then summarises them.
    private func deriveMetrics(for types: [any Scenario.Type], maxCV: Double) {
        state.withLock { state in
            for type in types {
                let indices = state.document.cases.indices.filter { state.document.cases[$0].scenario == type.name }
                var cases = indices.map { state.document.cases[$0] }
                type.deriveMetrics(over: &cases)
                for (index, var derived) in zip(indices, cases) {
                    derived.summarise(maxCV: maxCV)
                    state.document.cases[index] = derived
                }
            }
        }
    }

    /// Records case `index` of the plan as it stands after one more repetition and rewrites the
    /// outputs (atomically), so a process killed in the middle of a run leaves every repetition
    /// finished before the kill.
    func recordRepetition(_ partial: CaseResult, at index: Int, maxCV: Double) {
        var partial = partial
        partial.summarise(maxCV: maxCV)
        state.withLock { state in
            state.running[index] = partial
            Self.write(&state)
        }
    }

    /// Records finished case `index` of the plan (in plan order) and rewrites the outputs.
    func finishCase(_ result: CaseResult, at index: Int) {
        state.withLock { state in
            state.running[index] = nil
            let at = state.finishedIndices.firstIndex { $0 > index } ?? state.finishedIndices.count
            state.finishedIndices.insert(index, at: at)
            state.document.cases.insert(result, at: at)
            Self.write(&state)
        }
    }

    /// Stamps the end time, writes the outputs one last time and returns the document.
    public func finish() -> ResultDocument {
        state.withLock { state in
            state.document.finishedAt = Date()
            Self.write(&state)
            return state.document
        }
    }

    /// Lets `change` add to the finished document (e.g. scaling figures over the cases), rewrites
    /// the outputs and returns the document and what `change` returned.
    public func amend<R>(_ change: (inout ResultDocument) -> R) -> (ResultDocument, R) {
        state.withLock { state in
            let value = change(&state.document)
            Self.write(&state)
            return (state.document, value)
        }
    }

    public var document: ResultDocument { state.withLock { $0.document } }

    /// Every write that failed so far, one line each ("cannot write PATH: reason").
    public var writeFailures: [String] { state.withLock { $0.writeFailures } }

    /// The one write path of the result document (the finished cases and the one under way):
    /// encode, then write every output atomically. A failure is printed on stderr once per file
    /// (not after every repetition) and recorded.
    private static func write(_ state: inout State) {
        guard !state.outputs.isEmpty else { return }
        let data: Data
        do { data = try state.written.encoded() } catch {
            report("cannot encode the result document: \(ErrorText.describe(error))", into: &state)
            return
        }
        for url in state.outputs {
            do { try AtomicFile.write(data, to: url) } catch {
                let failure = ErrorText.failed("write the results to", path: url.path, error)
                if !state.writeFailures.contains(failure) { report(failure, into: &state) }
            }
        }
    }

    private static func report(_ failure: String, into state: inout State) {
        state.writeFailures.append(failure)
        FileHandle.standardError.write(Data("kvmbench: \(failure)\n".utf8))
    }
}

/// Where a run is when a warm-up or repetition starts.
public struct RunPosition: Sendable {
    /// The case's index in the plan, and the plan's number of cases.
    public var index: Int
    public var total: Int
    /// 1-based round, and the rounds of the schedule (see `ScheduledRepetition.round`).
    public var round: Int
    public var rounds: Int
    public var interleaved: Bool
    /// True for the case's first warm-up or repetition.
    public var firstOfCase: Bool
    /// The estimate of the time left, this repetition included; nil while nothing is known.
    public var left: (seconds: Double, basis: RunEstimate.Basis)?
}

/// A progress reporter that says nothing (tests, --json).
public struct SilentProgress: ProgressReporter {
    public init() {}
    public func runStarted(_ estimate: RunEstimate) {}
    public func caseStarted(_ position: RunPosition, scenario: String, parameters: [String: String]) {}
    public func step(_ text: String) {}
    public func caseFinished(_ result: CaseResult, index: Int, total: Int, seconds: Double) {}
    public func notice(_ text: String) {}
}

/// Writes files the way results must be written: to a temporary file beside the target, then
/// rename(2), so a reader never sees half a file and a crash never leaves one. A target that exists
/// and is not a regular file (`/dev/null`, `/dev/stdout`, a FIFO) is written in place instead:
/// renaming over it would replace the device node with a plain file.
public enum AtomicFile {
    public static func write(_ data: Data, to url: URL) throws {
        var status = stat()
        if stat(url.path, &status) == 0, (status.st_mode & S_IFMT) != S_IFREG, (status.st_mode & S_IFMT) != S_IFDIR {
            let handle = try FileHandle(forWritingTo: url)
            defer { try? handle.close() }
            try handle.write(contentsOf: data)
            return
        }
        let directory = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp")
        try data.write(to: temporary)
        guard rename(temporary.path, url.path) == 0 else {
            let error = errno
            try? FileManager.default.removeItem(at: temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "rename to \(url.path) failed: \(String(cString: strerror(error)))"])
        }
    }
}
