import Foundation
import Results
import Statistics

/// What every history database does, whichever holds it: SQLite on this host (`HistoryDatabase`,
/// the default) or a PostgreSQL server that a fleet shares (`PostgresHistory`). Both keep the same
/// schema (see `HistoryDatabase`), so callers do not know which one they have; `HistoryStores.open`
/// picks one from the location.
public protocol HistoryStore: Sendable {
    /// A file path, or the server's URL without its password.
    var location: String { get }

    /// Records one run (with its cases and metrics) in one transaction, unless a run with the same
    /// start time and host key is already there: importing or retrying twice records it once.
    func record(_ run: RecordedRun) throws -> HistoryRecordOutcome

    /// Every run, oldest first, or those of one host (a host key or a hostname).
    func runs(host: String?) throws -> [RunRecord]

    /// Runs with their cases and metrics, oldest first: those with the ids given, or all (nil).
    func recordedRuns(ids: [Int64]?) throws -> [RecordedRun]

    /// Accepts run `runID` into the pool the history gate judges against, by hand, for `reason`
    /// (`kvmbench history accept`); false when no run has that id.
    func accept(runID: Int64, reason: String) throws -> Bool

    /// One metric's points, oldest first, optionally narrowed to a case key, a scenario and a host
    /// (a host key or a hostname). Only measured (`ok`) cases.
    func series(metric: String, caseKey: String?, scenario: String?, host: String?, acceptedOnly: Bool) throws -> [SeriesPoint]

    /// The (host key, case key, metric) triples of every gated metric recorded, sorted; of one host when given.
    func gatedSeriesKeys(host: String?) throws -> [(host: String, caseKey: String, metric: String)]
}

public enum HistoryRecordOutcome: Equatable, Sendable {
    case recorded(runID: Int64)
    /// A run with the same start time and host key is already there (same document imported twice).
    case alreadyPresent(runID: Int64)
}

/// Whether a recorded run joins the pool that later history gates judge against, and why.
public struct RunAcceptance: Sendable, Equatable {
    public var accepted: Bool
    public var reason: String

    public init(accepted: Bool, reason: String) {
        self.accepted = accepted
        self.reason = reason
    }

    /// Recorded by `kvmbench suite`, `run` or `history import`: no gate judged it.
    public static let unjudged = RunAcceptance(accepted: false, reason: "unjudged: recorded without a gate")
}

/// A run as the history stores it: the rows of `runs`, `cases` and `metrics`, JSON columns as text.
/// The unit of recording and of `kvmbench history migrate`.
public struct RecordedRun: Sendable, Equatable {
    /// The id in the store it was read from; nil before it is recorded.
    public var id: Int64?
    public var startedAt: String
    public var finishedAt: String?
    public var sourcePath: String?
    public var suiteName: String?
    public var kvmbenchVersion: String
    public var hostFingerprint: String
    public var hostKey: String
    public var kernelRelease: String
    /// Whether the history gate may judge later runs against this one: only a run that a gate
    /// passed (or that was collecting history), or one accepted by hand.
    public var accepted: Bool
    /// Why it is or is not accepted, in a few words (see `RunAcceptance`).
    public var acceptance: String?
    public var cases: [Case]

    public struct Case: Sendable, Equatable {
        public var caseKey: String
        public var scenario: String
        public var parameters: String
        public var status: String
        public var reason: String?
        public var metrics: [MetricRow]
    }

    public struct MetricRow: Sendable, Equatable {
        public var name: String
        public var unit: String
        public var better: String
        public var gate: Bool
        public var median: Double?
        public var low: Double?
        public var high: Double?
        public var samples: String
    }

    /// The rows of `document`, accepted or not as `acceptance` says (by default unjudged: recorded
    /// without a gate, never part of the pool a later gate judges against).
    public init(_ document: ResultDocument, sourcePath: String? = nil, acceptance: RunAcceptance = .unjudged) throws {
        id = nil
        startedAt = HistoryDates.text(document.startedAt)
        finishedAt = document.finishedAt.map(HistoryDates.text)
        self.sourcePath = sourcePath
        suiteName = document.suite?.name
        kvmbenchVersion = document.kvmbench.version
        hostFingerprint = try JSONText.encode(document.host)
        hostKey = HostKey.of(document.host)
        kernelRelease = document.host.kernelRelease
        accepted = acceptance.accepted
        self.acceptance = acceptance.reason
        cases = try document.cases.map { result in
            Case(caseKey: result.key, scenario: result.scenario, parameters: try JSONText.encode(result.parameters),
                 status: result.status.rawValue, reason: result.reason,
                 metrics: try result.metrics.map { metric in
                     let interval = metric.summary?.medianInterval ?? Bootstrap.medianInterval(of: metric.samples)
                     return MetricRow(name: metric.name, unit: metric.unit.symbol, better: metric.better.rawValue, gate: metric.gate,
                                      median: metric.median.isFinite ? metric.median : nil,
                                      low: interval?.first, high: interval?.last, samples: try JSONText.encode(metric.samples))
                 })
        }
    }

    init(id: Int64?, startedAt: String, finishedAt: String?, sourcePath: String?, suiteName: String?,
         kvmbenchVersion: String, hostFingerprint: String, hostKey: String, kernelRelease: String,
         accepted: Bool, acceptance: String?, cases: [Case]) {
        self.id = id; self.startedAt = startedAt; self.finishedAt = finishedAt; self.sourcePath = sourcePath
        self.suiteName = suiteName; self.kvmbenchVersion = kvmbenchVersion; self.hostFingerprint = hostFingerprint
        self.hostKey = hostKey; self.kernelRelease = kernelRelease; self.accepted = accepted
        self.acceptance = acceptance; self.cases = cases
    }

    public static func acceptedByHand(_ reason: String) -> String { "accepted by hand: \(reason)" }

    /// The host this run was measured on (nil when its JSON no longer decodes).
    public var host: HostFingerprint? { try? JSONText.decode(HostFingerprint.self, hostFingerprint) }

    /// The cases as results: parameters, status and metrics with their samples (no KVM stats or notes).
    public var caseResults: [CaseResult] {
        cases.map { row in
            let parameters = (try? JSONText.decode([String: String].self, row.parameters)) ?? [:]
            let metrics = row.metrics.map { metric in
                Metric(name: metric.name, unit: MetricUnit(symbol: metric.unit), better: Polarity(rawValue: metric.better) ?? .lower,
                       samples: (try? JSONText.decode([Double].self, metric.samples)) ?? [], gate: metric.gate)
            }
            return CaseResult(scenario: row.scenario, parameters: parameters,
                              status: CaseStatus(rawValue: row.status) ?? .failed, reason: row.reason, metrics: metrics)
        }
    }
}

extension HistoryStore {
    /// Records `document` (see `RecordedRun.init`).
    @discardableResult
    public func record(_ document: ResultDocument, sourcePath: String? = nil,
                       acceptance: RunAcceptance = .unjudged) throws -> HistoryRecordOutcome {
        try record(RecordedRun(document, sourcePath: sourcePath, acceptance: acceptance))
    }

    public func runs() throws -> [RunRecord] { try runs(host: nil) }

    public func series(metric: String, caseKey: String? = nil, scenario: String? = nil,
                       host: String? = nil) throws -> [SeriesPoint] {
        try series(metric: metric, caseKey: caseKey, scenario: scenario, host: host, acceptedOnly: false)
    }

    /// The change points of every gated metric's median series, per host and case (E-divisive means
    /// with Otava's t-test significance; see `ChangePointDetection`); of one host when given.
    public func changes(windowLength: Int = ChangePointDetection.defaultWindowLength,
                        maxPValue: Double = ChangePointDetection.defaultMaxPValue,
                        host: String? = nil) throws -> [SeriesChange] {
        var out: [SeriesChange] = []
        for key in try gatedSeriesKeys(host: host) {
            let points = try series(metric: key.metric, caseKey: key.caseKey, scenario: nil, host: key.host, acceptedOnly: false)
                .filter { $0.median != nil }
            let medians = points.compactMap(\.median)
            for change in ChangePointDetection.changePoints(in: medians, windowLength: windowLength, maxPValue: maxPValue) {
                let point = points[change.index]
                out.append(SeriesChange(host: key.host, caseKey: key.caseKey, metric: key.metric,
                                        unit: point.unit, better: point.better, runID: point.runID,
                                        startedAt: point.startedAt, kernelRelease: point.kernelRelease,
                                        changePoint: change))
            }
        }
        return out
    }
}

/// Where the history is, and which store holds it.
public enum HistoryStores {
    /// True when `location` names a PostgreSQL server (`postgres://` or `postgresql://`).
    public static func isServerURL(_ location: String) -> Bool {
        location.hasPrefix("postgres://") || location.hasPrefix("postgresql://")
    }

    /// The store at `location`: a PostgreSQL server for a postgres:// URL, else a SQLite file.
    public static func open(_ location: String) throws -> any HistoryStore {
        guard isServerURL(location) else { return try HistoryDatabase(path: location) }
        return try PostgresHistory(url: location)
    }

    /// Copies every run of `source` into `destination`, oldest first; runs already there are kept
    /// once (the unique key of start time and host key), so an interrupted migration can be rerun.
    public static func migrate(from source: any HistoryStore, to destination: any HistoryStore) throws -> (copied: Int, present: Int) {
        var copied = 0, present = 0
        for run in try source.recordedRuns(ids: nil) {
            var row = run
            row.id = nil
            switch try destination.record(row) {
            case .recorded: copied += 1
            case .alreadyPresent: present += 1
            }
        }
        return (copied, present)
    }
}
