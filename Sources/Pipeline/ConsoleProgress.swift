import Foundation
import Glibc
import Harness
import Reporting
import Results

/// Progress on stderr: on a terminal one live line (suite, case i/n, parameters, time left);
/// elsewhere one plain line per case. Quiet prints nothing but notices.
public final class ConsoleProgress: ProgressReporter, @unchecked Sendable {
    // SAFETY (Sendable): called from the run's own thread only; the lock guards the rare
    // notice printed from elsewhere.
    private let lock = NSLock()
    private let live: Bool
    private let quiet: Bool
    private let label: String
    private var caseLine = ""
    private var started = MonotonicClock.now()
    private var caseIndex = 0
    private var caseTotal = 0
    private var estimate: RunEstimate?
    /// Repetitions (warm-ups included) of the cases finished so far.
    private var repetitionsDone = 0

    public init(label: String, quiet: Bool) {
        self.live = isatty(STDERR_FILENO) != 0 && ProcessInfo.processInfo.environment["CI"] == nil
        self.quiet = quiet
        self.label = label
    }

    private func emit(_ text: String) {
        lock.lock(); defer { lock.unlock() }
        FileHandle.standardError.write(Data(text.utf8))
    }

    public func runStarted(_ estimate: RunEstimate) {
        self.estimate = estimate
        started = MonotonicClock.now()
        repetitionsDone = 0
    }

    public func caseStarted(index: Int, total: Int, scenario: String, parameters: [String: String]) {
        caseIndex = index
        caseTotal = total
        let shown = parameters.filter { ["vcpus", "mem_per_vcpu", "backing", "guest_page_size", "slots", "slots_effective", "dirty_mode", "uffd", "tests", "triggers"].contains($0.key) }
            .sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        var eta = ""
        if let left = estimate?.remaining(from: index, elapsed: MonotonicClock.seconds(since: started), repetitionsDone: repetitionsDone) {
            eta = ", ~\(UnitFormatting.duration(left.seconds)) left" + (left.basis == .history ? "" : " (rough: cases new to this host)")
        }
        caseLine = "[\(label)] case \(index + 1)/\(total)\(eta): \(scenario) \(shown)"
        if quiet { return }
        emit(live ? "\r\u{1B}[2K" + caseLine : caseLine + "\n")
    }

    public func step(_ text: String) {
        guard live, !quiet else { return }
        emit("\r\u{1B}[2K" + caseLine + " (" + text + ")")
    }

    public func caseFinished(_ result: CaseResult, seconds: Double) {
        repetitionsDone += estimate?.repetitions(of: caseIndex) ?? 0
        guard !quiet else { return }
        let status = result.status == .ok ? "ok" : "\(result.status.rawValue): \(result.reason ?? "")"
        let line = "  \(status) in \(UnitFormatting.duration(seconds))"
        emit(live ? "\r\u{1B}[2K" + caseLine + "\n" + line + "\n" : line + "\n")
    }

    public func notice(_ text: String) {
        emit((live && !quiet ? "\r\u{1B}[2K" : "") + "notice: " + text + "\n")
    }
}
