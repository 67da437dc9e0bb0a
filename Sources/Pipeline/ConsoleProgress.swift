import Foundation
import Glibc
import Harness
import Reporting
import Results

/// Progress on stderr: on a terminal one live line (suite, round, case i/n, parameters, time
/// left); elsewhere one plain line per case (and per round when interleaved). Quiet prints nothing but notices.
public final class ConsoleProgress: ProgressReporter, @unchecked Sendable {
    // SAFETY (Sendable): called from the run's own thread only; the lock guards the rare
    // notice printed from elsewhere.
    private let lock = NSLock()
    private let live: Bool
    private let quiet: Bool
    private let label: String
    private var caseLine = ""
    /// Each case's description ("demand-paging backing=thp vcpus=2") by plan index.
    private var described: [Int: String] = [:]
    private var round = 0
    private var interleaved = false

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
        round = 0
        described = [:]
    }

    /// Sequential: one line per case. Interleaved: the live line shows the round and the case;
    /// elsewhere a line per case the first time it runs and one per round after the first.
    public func caseStarted(_ position: RunPosition, scenario: String, parameters: [String: String]) {
        let shown = parameters.filter { ["vcpus", "mem_per_vcpu", "backing", "guest_page_size", "slots", "slots_effective", "dirty_mode", "uffd", "tests", "triggers"].contains($0.key) }
            .sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let description = "\(scenario) \(shown)"
        described[position.index] = description
        var eta = ""
        if let left = position.left {
            eta = ", ~\(UnitFormatting.duration(left.seconds)) left" + (left.basis == .history ? "" : " (rough: cases new to this host)")
        }
        let roundText = position.interleaved ? "round \(position.round)/\(position.rounds) · " : ""
        caseLine = "[\(label)] \(roundText)case \(position.index + 1)/\(position.total)\(eta): \(description)"
        if quiet { return }
        if live {
            emit("\r\u{1B}[2K" + caseLine)
        } else if position.firstOfCase {
            emit(caseLine + "\n")
        } else if position.interleaved && position.round != round {
            emit("[\(label)] round \(position.round)/\(position.rounds)\(eta)\n")
        }
        round = position.round
        interleaved = position.interleaved
    }

    public func step(_ text: String) {
        guard live, !quiet else { return }
        emit("\r\u{1B}[2K" + caseLine + " (" + text + ")")
    }

    public func caseFinished(_ result: CaseResult, index: Int, total: Int, seconds: Double) {
        guard !quiet else { return }
        let status = result.status == .ok ? "ok" : "\(result.status.rawValue): \(result.reason ?? "")"
        // Interleaved, a case ends long after it started: name it again.
        let named = interleaved ? "  case \(index + 1)/\(total) \(described[index] ?? result.scenario): " : "  "
        let line = "\(named)\(status) in \(UnitFormatting.duration(seconds))"
        emit(live ? "\r\u{1B}[2K" + (named == "  " ? caseLine + "\n" : "") + line + "\n" : line + "\n")
    }

    public func notice(_ text: String) {
        emit((live && !quiet ? "\r\u{1B}[2K" : "") + "notice: " + text + "\n")
    }
}
