import Host
import Synchronization

/// What one repetition of a case runs in, handed to `Scenario.measure(in:)` by the run pipeline:
/// the host session every VM is created from, the watchdog's limit, and the placement reports
/// of the guests the repetition built (collected here, then added to its sample by the pipeline).
public final class CaseContext: Sendable {
    public let host: HostSession
    /// `--case-timeout`: seconds a vCPU may go without progress before the watchdog stops it and
    /// fails the case. Not a parameter of the measurement, so not recorded with the results.
    public let timeoutSeconds: Double
    private let placements = Mutex<[PlacementReport]>([])

    public init(host: HostSession, timeoutSeconds: Double = CaseContext.defaultTimeoutSeconds) {
        self.host = host
        self.timeoutSeconds = timeoutSeconds
    }

    /// The watchdog limit when none is given (`--case-timeout`'s default).
    public static let defaultTimeoutSeconds: Double = 120

    /// Called by a guest with `--pin` or a NUMA policy when it goes away (after its last pass).
    func record(_ report: PlacementReport) {
        placements.withLock { $0.append(report) }
    }

    /// Removes and returns the placement reports recorded so far.
    public func takePlacementReports() -> [PlacementReport] {
        placements.withLock { reports in
            defer { reports.removeAll() }
            return reports
        }
    }

    /// Adds the reports recorded so far to `sample`: their notes, and the page census as
    /// `phaseStats["numa_pages"]` (of the last guest).
    public func drainPlacementReports(into sample: inout Sample) {
        for report in takePlacementReports() {
            for note in report.notes where !sample.notes.contains(note) { sample.notes.append(note) }
            if let pages = report.numaPages {
                var phases = sample.phaseStats ?? [:]
                phases["numa_pages"] = pages
                sample.phaseStats = phases
            }
        }
    }
}
