import Foundation
import GRDB
import Results

/// The history database: every recorded run, its cases and their metrics, in SQLite (through GRDB).
/// `PostgresHistory` keeps the same tables on a shared server. Schema (created by `migrator`,
/// versions "v1" and "v2" (the `acceptance` column: why a run is or is not accepted), recorded in GRDB's `grdb_migrations`; PostgreSQL records it in `kvmbench_schema`):
///
///     runs(id, started_at, finished_at, source_path, suite_name, kvmbench_version,
///          host_fingerprint JSON, host_key, kernel_release, accepted,
///          acceptance)                                                  unique(started_at, host_key)
///     cases(id, run_id -> runs, case_key, scenario, parameters JSON, status, reason)
///     metrics(id, case_id -> cases, name, unit, better, gate, median, low, high, samples JSON)
///
/// Dates are ISO 8601 text in UTC with milliseconds, so they sort as text.
public final class HistoryDatabase: HistoryStore {
    let queue: DatabaseQueue
    public let path: String

    /// Opens (creating when missing, with its folder) the database at `path` and migrates it.
    public init(path: String) throws {
        self.path = path
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        queue = try DatabaseQueue(path: path, configuration: configuration)
        try Self.migrator.migrate(queue)
    }

    /// `--history PATH`, else `$KVMBENCH_HISTORY`, else `$XDG_DATA_HOME/kvmbench/history.sqlite`,
    /// else `~/.local/share/kvmbench/history.sqlite`.
    public static func defaultPath(option: String? = nil,
                                   environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let option, !option.isEmpty { return option }
        if let path = environment["KVMBENCH_HISTORY"], !path.isEmpty { return path }
        if let data = environment["XDG_DATA_HOME"], !data.isEmpty { return data + "/kvmbench/history.sqlite" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.local/share/kvmbench/history.sqlite"
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "runs") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("started_at", .text).notNull()
                t.column("finished_at", .text)
                t.column("source_path", .text)
                t.column("suite_name", .text)
                t.column("kvmbench_version", .text).notNull()
                t.column("host_fingerprint", .text).notNull()
                t.column("host_key", .text).notNull()
                t.column("kernel_release", .text).notNull()
                t.column("accepted", .boolean).notNull()
                t.uniqueKey(["started_at", "host_key"])
            }
            try db.create(table: "cases") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("run_id", .integer).notNull().indexed().references("runs", onDelete: .cascade)
                t.column("case_key", .text).notNull().indexed()
                t.column("scenario", .text).notNull()
                t.column("parameters", .text).notNull()
                t.column("status", .text).notNull()
                t.column("reason", .text)
            }
            try db.create(table: "metrics") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("case_id", .integer).notNull().indexed().references("cases", onDelete: .cascade)
                t.column("name", .text).notNull().indexed()
                t.column("unit", .text).notNull()
                t.column("better", .text).notNull()
                t.column("gate", .boolean).notNull()
                t.column("median", .double)
                t.column("low", .double)
                t.column("high", .double)
                t.column("samples", .text).notNull()
            }
        }
        migrator.registerMigration("v2") { db in
            try db.alter(table: "runs") { t in t.add(column: "acceptance", .text) }
        }
        return migrator
    }

    // MARK: recording

    public typealias RecordOutcome = HistoryRecordOutcome

    public var location: String { path }

    public func record(_ run: RecordedRun) throws -> HistoryRecordOutcome {
        try queue.write { db -> HistoryRecordOutcome in
            if let id = try Int64.fetchOne(db, sql: "SELECT id FROM runs WHERE started_at = ? AND host_key = ?",
                                           arguments: [run.startedAt, run.hostKey]) {
                return .alreadyPresent(runID: id)
            }
            try db.execute(sql: """
                INSERT INTO runs (started_at, finished_at, source_path, suite_name, kvmbench_version,
                                  host_fingerprint, host_key, kernel_release, accepted, acceptance)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [run.startedAt, run.finishedAt, run.sourcePath, run.suiteName, run.kvmbenchVersion,
                                 run.hostFingerprint, run.hostKey, run.kernelRelease, run.accepted, run.acceptance])
            let runID = db.lastInsertedRowID
            for result in run.cases {
                try db.execute(sql: """
                    INSERT INTO cases (run_id, case_key, scenario, parameters, status, reason)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """, arguments: [runID, result.caseKey, result.scenario, result.parameters, result.status, result.reason])
                let caseID = db.lastInsertedRowID
                for metric in result.metrics {
                    try db.execute(sql: """
                        INSERT INTO metrics (case_id, name, unit, better, gate, median, low, high, samples)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, arguments: [caseID, metric.name, metric.unit, metric.better, metric.gate,
                                         metric.median, metric.low, metric.high, metric.samples])
                }
            }
            return .recorded(runID: runID)
        }
    }

    public func accept(runID: Int64, reason: String) throws -> Bool {
        try queue.write { db in
            try db.execute(sql: "UPDATE runs SET accepted = 1, acceptance = ? WHERE id = ?",
                           arguments: [RecordedRun.acceptedByHand(reason), runID])
            return db.changesCount > 0
        }
    }

    // MARK: reading

    public func runs(host: String?) throws -> [RunRecord] {
        var sql = """
            SELECT r.*, (SELECT COUNT(*) FROM cases c WHERE c.run_id = r.id) AS case_count FROM runs r
            """
        var arguments: StatementArguments = []
        if let host { sql += " WHERE (r.host_key = ? OR r.host_key LIKE ?)"; arguments += [host, host + "-%"] }
        sql += " ORDER BY started_at, id"
        let query = sql, values = arguments
        return try queue.read { db in try Row.fetchAll(db, sql: query, arguments: values).map(RunRecord.init(row:)) }
    }

    public func recordedRuns(ids: [Int64]?) throws -> [RecordedRun] {
        try queue.read { db in
            var sql = "SELECT * FROM runs"
            if let ids { sql += " WHERE id IN (\(ids.map(String.init).joined(separator: ",")))" }
            let runRows = try Row.fetchAll(db, sql: sql + " ORDER BY started_at, id")
            return try runRows.map { row in
                let runID: Int64 = row["id"]
                let cases = try Row.fetchAll(db, sql: "SELECT * FROM cases WHERE run_id = ? ORDER BY id", arguments: [runID]).map { caseRow in
                    let metrics = try Row.fetchAll(db, sql: "SELECT * FROM metrics WHERE case_id = ? ORDER BY id",
                                                   arguments: [caseRow["id"] as Int64]).map { m in
                        RecordedRun.MetricRow(name: m["name"], unit: m["unit"], better: m["better"], gate: m["gate"],
                                              median: m["median"], low: m["low"], high: m["high"], samples: m["samples"])
                    }
                    return RecordedRun.Case(caseKey: caseRow["case_key"], scenario: caseRow["scenario"],
                                            parameters: caseRow["parameters"], status: caseRow["status"],
                                            reason: caseRow["reason"], metrics: metrics)
                }
                return RecordedRun(id: runID, startedAt: row["started_at"], finishedAt: row["finished_at"],
                                   sourcePath: row["source_path"], suiteName: row["suite_name"],
                                   kvmbenchVersion: row["kvmbench_version"], hostFingerprint: row["host_fingerprint"],
                                   hostKey: row["host_key"], kernelRelease: row["kernel_release"],
                                   accepted: row["accepted"], acceptance: row["acceptance"], cases: cases)
            }
        }
    }

    public func series(metric: String, caseKey: String?, scenario: String?,
                       host: String?, acceptedOnly: Bool) throws -> [SeriesPoint] {
        var sql = """
            SELECT r.id AS run_id, r.started_at, r.host_key, r.kernel_release, r.accepted,
                   c.case_key, c.scenario, m.name, m.unit, m.better, m.gate, m.median, m.low, m.high, m.samples
            FROM metrics m JOIN cases c ON m.case_id = c.id JOIN runs r ON c.run_id = r.id
            WHERE m.name = ? AND c.status = 'ok'
            """
        var arguments: StatementArguments = [metric]
        if let caseKey { sql += " AND c.case_key = ?"; arguments += [caseKey] }
        if let scenario { sql += " AND c.scenario = ?"; arguments += [scenario] }
        if let host { sql += " AND (r.host_key = ? OR r.host_key LIKE ?)"; arguments += [host, host + "-%"] }
        if acceptedOnly { sql += " AND r.accepted" }
        sql += " ORDER BY r.host_key, c.case_key, r.started_at, r.id"
        let query = sql, values = arguments
        return try queue.read { db in try Row.fetchAll(db, sql: query, arguments: values).map(SeriesPoint.init(row:)) }
    }

    public func gatedSeriesKeys(host: String?) throws -> [(host: String, caseKey: String, metric: String)] {
        var sql = """
            SELECT DISTINCT r.host_key, c.case_key, m.name
            FROM metrics m JOIN cases c ON m.case_id = c.id JOIN runs r ON c.run_id = r.id
            WHERE m.gate AND c.status = 'ok'
            """
        var arguments: StatementArguments = []
        if let host { sql += " AND (r.host_key = ? OR r.host_key LIKE ?)"; arguments += [host, host + "-%"] }
        sql += " ORDER BY r.host_key, c.case_key, m.name"
        let query = sql, values = arguments
        return try queue.read { db in
            try Row.fetchAll(db, sql: query, arguments: values).map { ($0["host_key"], $0["case_key"], $0["name"]) }
        }
    }
}

/// One row of `runs`.
public struct RunRecord: Sendable, Equatable, Codable {
    public var id: Int64
    public var startedAt: String
    public var finishedAt: String?
    public var sourcePath: String?
    public var suiteName: String?
    public var kvmbenchVersion: String
    public var hostKey: String
    public var kernelRelease: String
    public var accepted: Bool
    /// Why the run is or is not accepted ("gate passed", "unjudged: ...", "accepted by hand: ...");
    /// nil for runs recorded before kvmbench said so.
    public var acceptance: String?
    public var caseCount: Int
    /// The fingerprint of the host the run was measured on, as recorded with it.
    public var host: HostFingerprint?

    init(row: Row) {
        id = row["id"]; startedAt = row["started_at"]; finishedAt = row["finished_at"]
        sourcePath = row["source_path"]; suiteName = row["suite_name"]; kvmbenchVersion = row["kvmbench_version"]
        hostKey = row["host_key"]; kernelRelease = row["kernel_release"]; accepted = row["accepted"]
        acceptance = row["acceptance"]; caseCount = row["case_count"]
        host = try? JSONText.decode(HostFingerprint.self, row["host_fingerprint"])
    }

    init(id: Int64, startedAt: String, finishedAt: String?, sourcePath: String?, suiteName: String?,
         kvmbenchVersion: String, hostKey: String, kernelRelease: String, accepted: Bool, acceptance: String?,
         caseCount: Int, hostFingerprint: String) {
        self.id = id; self.startedAt = startedAt; self.finishedAt = finishedAt; self.sourcePath = sourcePath
        self.suiteName = suiteName; self.kvmbenchVersion = kvmbenchVersion; self.hostKey = hostKey
        self.kernelRelease = kernelRelease; self.accepted = accepted; self.acceptance = acceptance; self.caseCount = caseCount
        host = try? JSONText.decode(HostFingerprint.self, hostFingerprint)
    }

    /// The host class: hosts whose comparable fields, other than the hostname and kernel, match.
    public var hostClass: String { HostKey.hostClass(ofKey: hostKey) }

    enum CodingKeys: String, CodingKey {
        case id, startedAt = "started_at", finishedAt = "finished_at", sourcePath = "source_path"
        case suiteName = "suite_name", kvmbenchVersion = "kvmbench_version", hostKey = "host_key"
        case kernelRelease = "kernel_release", accepted, acceptance, caseCount = "cases", host
    }
}

/// One run's value of one metric of one case.
public struct SeriesPoint: Sendable, Equatable, Codable {
    public var runID: Int64
    public var startedAt: String
    public var hostKey: String
    public var kernelRelease: String
    public var accepted: Bool
    public var caseKey: String
    public var scenario: String
    public var metric: String
    /// Stored as its symbol, read back typed.
    public var unit: MetricUnit
    public var better: Polarity
    public var gate: Bool
    public var median: Double?
    /// The bootstrap interval of the median when recorded.
    public var low: Double?
    public var high: Double?
    public var samples: [Double]

    init(runID: Int64, startedAt: String, hostKey: String, kernelRelease: String, accepted: Bool, caseKey: String,
         scenario: String, metric: String, unit: String, better: String, gate: Bool, median: Double?,
         low: Double?, high: Double?, samples: String) {
        self.runID = runID; self.startedAt = startedAt; self.hostKey = hostKey; self.kernelRelease = kernelRelease
        self.accepted = accepted; self.caseKey = caseKey; self.scenario = scenario; self.metric = metric
        self.unit = MetricUnit(symbol: unit); self.better = Polarity(rawValue: better) ?? .lower; self.gate = gate
        self.median = median; self.low = low; self.high = high
        self.samples = (try? JSONText.decode([Double].self, samples)) ?? []
    }

    init(row: Row) {
        runID = row["run_id"]; startedAt = row["started_at"]; hostKey = row["host_key"]
        kernelRelease = row["kernel_release"]; accepted = row["accepted"]; caseKey = row["case_key"]
        scenario = row["scenario"]; metric = row["name"]; unit = MetricUnit(symbol: row["unit"])
        better = Polarity(rawValue: row["better"]) ?? .lower; gate = row["gate"]
        median = row["median"]; low = row["low"]; high = row["high"]
        samples = (try? JSONText.decode([Double].self, row["samples"])) ?? []
    }

    enum CodingKeys: String, CodingKey {
        case runID = "run_id", startedAt = "started_at", hostKey = "host_key", kernelRelease = "kernel_release"
        case accepted, caseKey = "case", scenario, metric, unit, better, gate, median, low, high, samples
    }
}

/// A change point of one gated metric's series: it starts at run `runID`.
public struct SeriesChange: Sendable, Equatable, Codable {
    public var host: String
    public var caseKey: String
    public var metric: String
    /// Stored as its symbol, read back typed.
    public var unit: MetricUnit
    public var better: Polarity
    public var runID: Int64
    public var startedAt: String
    public var kernelRelease: String
    public var changePoint: ChangePoint

    enum CodingKeys: String, CodingKey {
        case host, caseKey = "case", metric, unit, better, runID = "run_id", startedAt = "started_at"
        case kernelRelease = "kernel_release", changePoint = "change_point"
    }
}

/// The host key of a run: the hostname and a hash of the fingerprint fields the gate compares,
/// apart from the kernel (so a kernel change stays one series and shows as a change point).
public enum HostKey {
    public static func of(_ host: HostFingerprint) -> String {
        var text = ""
        for field in HostFingerprint.comparableFields where field.name != HostFingerprint.kernelField {
            text += field.name + "=" + (field.value(host) ?? "-") + "\n"
        }
        for (key, value) in host.kvmParameters.sorted(by: { $0.key < $1.key }) {
            text += "kvm_parameters." + key + "=" + value + "\n"
        }
        // FNV-1a, 64 bit: stable across processes, unlike Hasher.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        let hex = String(hash, radix: 16)
        return host.hostname + "-" + String(repeating: "0", count: 16 - hex.count) + hex.prefix(16)
    }

    /// The host class of a host key: its hash of the comparable fields (hostname and kernel left out).
    public static func hostClass(ofKey key: String) -> String {
        key.split(separator: "-").last.map(String.init) ?? key
    }
}

enum HistoryDates {
    static func text(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}

enum JSONText {
    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(type, from: Data(text.utf8))
    }
}
