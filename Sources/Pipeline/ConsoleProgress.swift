import Foundation
import Glibc
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
    private var started = Date()
    private var caseIndex = 0
    private var caseTotal = 0

    public init(label: String, quiet: Bool) {
        self.live = isatty(STDERR_FILENO) != 0 && ProcessInfo.processInfo.environment["CI"] == nil
        self.quiet = quiet
        self.label = label
    }

    private func emit(_ text: String) {
        lock.lock(); defer { lock.unlock() }
        FileHandle.standardError.write(Data(text.utf8))
    }

    public func caseStarted(index: Int, total: Int, scenario: String, parameters: [String: String]) {
        if index == 0 { started = Date() }
        caseIndex = index
        caseTotal = total
        let shown = parameters.filter { ["vcpus", "mem_per_vcpu", "backing", "guest_page_size", "slots", "slots_effective", "dirty_mode", "uffd", "tests", "triggers"].contains($0.key) }
            .sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        var eta = ""
        if index > 0 {
            let perCase = Date().timeIntervalSince(started) / Double(index)
            eta = ", ~\(UnitFormatting.duration(perCase * Double(total - index))) left"
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
        guard !quiet else { return }
        let status = result.status == .ok ? "ok" : "\(result.status.rawValue): \(result.reason ?? "")"
        let line = "  \(status) in \(UnitFormatting.duration(seconds))"
        emit(live ? "\r\u{1B}[2K" + caseLine + "\n" + line + "\n" : line + "\n")
    }

    public func notice(_ text: String) {
        emit((live && !quiet ? "\r\u{1B}[2K" : "") + "notice: " + text + "\n")
    }
}
