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
    func caseStarted(index: Int, total: Int, scenario: String, parameters: [String: String])
    func step(_ text: String)
    func caseFinished(_ result: CaseResult, seconds: Double)
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
        /// The case under way, with its finished repetitions (written after the finished cases).
        var running: CaseResult?
        /// The document as written: the finished cases plus the one under way.
        var written: ResultDocument {
            var out = document
            if let running { out.cases.append(running) }
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

    /// Runs every case of `plan` in order, each with its own warm-ups and repetitions. Every
    /// repetition also records `host_busy` (see `HostLoad`), every metric gets its `summary`, and a
    /// gated metric whose coefficient of variation is above the plan's `maxCV` makes a "noisy: ..."
    /// note. When every case has finished, each scenario adds the metrics that exist only over
    /// several cases (`Scenario.deriveMetrics`). Returns the finished document.
    ///
    /// `previous` (seconds per repetition by case key, from this host's history) feeds the
    /// progress line's estimate of the time left.
    @discardableResult
    public func run(_ plan: RunPlan, progress: any ProgressReporter, previous: [String: Double] = [:]) -> ResultDocument {
        for notice in plan.notices { progress.notice(notice) }
        progress.runStarted(RunEstimate(plan, previous: previous))
        let cases = plan.cases
        let maxCV = plan.maxCV
        for (index, planned) in cases.enumerated() {
            let scenario = planned.scenario
            let name = type(of: scenario).name
            progress.caseStarted(index: index, total: cases.count, scenario: name, parameters: scenario.parameters)
            for notice in scenario.notices { progress.notice(notice) }
            let started = MonotonicClock.now()
            var result = CaseRunner.run(scenario: name, parameters: scenario.parameters, settings: planned.settings,
                                        host: host, timeoutSeconds: timeoutSeconds, progress: progress.step,
                                        afterRepetition: { self.recordRepetition($0, maxCV: maxCV) }) { context in
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
            for notice in scenario.notices where !result.notes.contains(notice) { result.notes.append(notice) }
            result.summarise(maxCV: maxCV)
            progress.caseFinished(result, seconds: MonotonicClock.seconds(since: started))
            append(result)
        }
        deriveMetrics(for: plan.scenarioTypes, maxCV: maxCV)
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

    /// Records the case under way after one more repetition and rewrites the outputs (atomically),
    /// so a process killed in the middle of a case leaves every repetition finished before the kill.
    public func recordRepetition(_ partial: CaseResult, maxCV: Double) {
        var partial = partial
        partial.summarise(maxCV: maxCV)
        state.withLock { state in
            state.running = partial
            Self.write(&state)
        }
    }

    /// Records a finished case and rewrites the outputs.
    public func append(_ result: CaseResult) {
        state.withLock { state in
            state.running = nil
            state.document.cases.append(result)
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

/// A progress reporter that says nothing (tests, --json).
public struct SilentProgress: ProgressReporter {
    public init() {}
    public func runStarted(_ estimate: RunEstimate) {}
    public func caseStarted(index: Int, total: Int, scenario: String, parameters: [String: String]) {}
    public func step(_ text: String) {}
    public func caseFinished(_ result: CaseResult, seconds: Double) {}
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
