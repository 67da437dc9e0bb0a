import Backings
import Dispatch
import Foundation
import Glibc
import Results
import Scenarios
import Synchronization

/// Reports what a run is doing: a live line on a terminal, one plain line per case elsewhere.
public protocol ProgressReporter: Sendable {
    func caseStarted(index: Int, total: Int, scenario: String, parameters: [String: String])
    func step(_ text: String)
    func caseFinished(_ result: CaseResult, seconds: Double)
    func notice(_ text: String)
}

/// One kvmbench invocation's run of cases: measures them in order, and rewrites the result
/// document atomically after every case, so an interrupted run keeps what it measured.
///
/// SIGINT and SIGTERM are caught: the document written so far is marked interrupted and written
/// once more, hugepage pools are restored, and the process exits with 128 + the signal number.
/// A second signal while that is under way exits at once, still restoring the pools (`InterruptGuard`).
public final class RunSession: Sendable {
    private struct State {
        var document: ResultDocument
        var outputs: [URL]
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

    public init(host: HostFingerprint, tool: ToolInfo, suite: SuiteRecord? = nil, outputs: [URL]) {
        state = Mutex(State(document: ResultDocument(kvmbench: tool, host: host, suite: suite), outputs: outputs))
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
            Self.write(state.written, to: state.outputs)
        }
        HugepagePool.restoreAll()
        exit(128 + signalNumber)
    }

    /// Runs every case in order. Returns the finished document.
    @discardableResult
    public func run(_ scenarios: [any Scenario], settings: RunSettings, progress: any ProgressReporter) -> ResultDocument {
        run(scenarios.map { PlannedCase(scenario: $0, settings: settings) }, progress: progress)
    }

    /// Runs every case in order, each with its own warm-ups and repetitions. Every repetition also
    /// records `host_busy` (see `HostLoad`), every metric gets its `summary`, and a gated metric whose
    /// coefficient of variation is above `maxCV` makes a "noisy: ..." note. Returns the finished document.
    @discardableResult
    public func run(_ cases: [PlannedCase], maxCV: Double = 0.30, progress: any ProgressReporter) -> ResultDocument {
        for (index, planned) in cases.enumerated() {
            let scenario = planned.scenario
            let name = type(of: scenario).name
            progress.caseStarted(index: index, total: cases.count, scenario: name, parameters: scenario.parameters)
            for notice in scenario.notices { progress.notice(notice) }
            let started = monotonicNanos()
            var result = CaseRunner.run(scenario: name, parameters: scenario.parameters, settings: planned.settings,
                                        progress: progress.step,
                                        afterRepetition: { self.recordRepetition($0, maxCV: maxCV) }) { _ in
                // How busy the rest of the host was during this repetition (outside every timed region).
                let load = HostLoad.snapshot()
                var sample = try scenario.measure()
                if let busy = load.othersPercent() {
                    sample.add(HostLoad.metricName, busy, unit: "%", better: .lower, gate: false)
                }
                return sample
            }
            for notice in scenario.notices where !result.notes.contains(notice) { result.notes.append(notice) }
            result.summarise(maxCV: maxCV)
            progress.caseFinished(result, seconds: Double(monotonicNanos() - started) / 1e9)
            append(result)
        }
        return finish()
    }

    /// Records the case under way after one more repetition and rewrites the outputs (atomically),
    /// so a process killed in the middle of a case leaves every repetition finished before the kill.
    public func recordRepetition(_ partial: CaseResult, maxCV: Double) {
        var partial = partial
        partial.summarise(maxCV: maxCV)
        state.withLock { state in
            state.running = partial
            Self.write(state.written, to: state.outputs)
        }
    }

    /// Records a finished case and rewrites the outputs.
    public func append(_ result: CaseResult) {
        state.withLock { state in
            state.running = nil
            state.document.cases.append(result)
            Self.write(state.document, to: state.outputs)
        }
    }

    /// Stamps the end time, writes the outputs one last time and returns the document.
    public func finish() -> ResultDocument {
        state.withLock { state in
            state.document.finishedAt = Date()
            Self.write(state.document, to: state.outputs)
            return state.document
        }
    }

    public var document: ResultDocument { state.withLock { $0.document } }

    private static let reportedWriteFailures = Mutex<Set<String>>([])

    static func write(_ document: ResultDocument, to outputs: [URL]) {
        guard !outputs.isEmpty, let data = try? document.encoded() else { return }
        for url in outputs {
            do { try AtomicFile.write(data, to: url) } catch {
                // Said once per file, not after every repetition.
                guard reportedWriteFailures.withLock({ $0.insert(url.path).inserted }) else { continue }
                FileHandle.standardError.write(Data("kvmbench: \(ErrorText.failed("write the results to", path: url.path, error))\n".utf8))
            }
        }
    }
}

/// Writes files the way results must be written: to a temporary file beside the target, then
/// rename(2), so a reader never sees half a file and a crash never leaves one.
public enum AtomicFile {
    public static func write(_ data: Data, to url: URL) throws {
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
