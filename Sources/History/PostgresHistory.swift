import Foundation
import Results
import Synchronization

/// The history on a PostgreSQL server that many hosts share (`--history postgres://user@host/db`),
/// through libpq (`PQConnection`). The tables are `HistoryDatabase`'s (runs, cases, metrics; the
/// same columns, BIGINT identities, BOOLEAN and DOUBLE PRECISION where SQLite has its affinities),
/// and `kvmbench_schema(version, applied_at)` records which migrations ran ("v1").
///
/// Concurrent writers are safe: a run and its cases and metrics go in one transaction, and the
/// unique key (started_at, host_key) with `ON CONFLICT DO NOTHING` keeps a run imported twice, or
/// a write retried after a lost connection, once. Migrations run under a transaction-scoped
/// advisory lock, so hosts that start together do not race to create the tables.
///
/// The calls block in libpq: the command line is synchronous, and one connection serves one
/// process. Every statement sends its values as parameters (PQexecParams), never in the SQL text.
public final class PostgresHistory: HistoryStore {
    public let location: String
    /// The one connection. libpq allows one thread at a time on a connection, and a transaction's
    /// statements must not interleave with another caller's: every use holds this mutex for a whole
    /// transaction or read (`transaction`, `read`), which is what makes the store Sendable.
    private let connection: Mutex<PQConnection>

    /// Connects to the server `url` names and migrates its schema. The URL, as libpq reads it:
    /// postgres[ql]://[user[:password]@][host][:port][/database][?sslmode=...], anything left out
    /// from libpq's defaults and environment (the local socket, the OS user, PGPASSWORD or
    /// ~/.pgpass, sslmode `prefer`: TLS when the server offers it, else plain).
    public init(url: String) throws {
        let conninfo = try Self.configuration(url)
        location = HistoryStores.redacted(url)
        let connected: PQConnection
        do throws(HistoryServerError) { connected = try PQConnection(conninfo) } catch {
            throw HistoryServerError("cannot connect to \(location): \(error.message)")
        }
        connection = Mutex(connected)
        try migrate()
    }

    // MARK: connection

    /// The sslmode values libpq knows.
    static let sslModes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]

    /// The connection string for `text`, a postgres:// URL, checked without connecting by libpq's
    /// own parser (an unknown parameter, a malformed URL) and for an sslmode libpq knows.
    static func configuration(_ text: String) throws -> String {
        let shown = HistoryStores.redacted(text)
        guard HistoryStores.isServerURL(text) else {
            throw HistoryServerError("\(shown): not a postgres:// URL (postgres://user[:password]@host[:port]/database)")
        }
        let options: [String: String]
        do throws(HistoryServerError) { options = try PQConnection.options(text) } catch {
            throw HistoryServerError("\(shown): \(error.message)")
        }
        if let mode = options["sslmode"], !sslModes.contains(mode) {
            throw HistoryServerError("\(shown): sslmode \(mode) is not one of \(sslModes.joined(separator: ", "))")
        }
        return text
    }

    /// One statement on the held connection; its error names the server.
    private func query(_ connection: borrowing PQConnection, _ sql: String, _ parameters: [PQParameter] = []) throws -> PQResult {
        do throws(HistoryServerError) { return try connection.execute(sql, parameters) } catch {
            throw HistoryServerError("\(location): \(error.message)")
        }
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    private func transaction<T: Sendable>(_ body: (borrowing PQConnection) throws -> T) throws -> T {
        try connection.withLock { connection in
            _ = try query(connection, "BEGIN")
            do {
                let value = try body(connection)
                _ = try query(connection, "COMMIT")
                return value
            } catch {
                _ = try? query(connection, "ROLLBACK")
                throw error
            }
        }
    }

    /// Runs `body` with the connection held (single statements need no transaction of their own).
    private func read<T: Sendable>(_ body: (borrowing PQConnection) throws -> T) throws -> T {
        try connection.withLock { connection in try body(connection) }
    }

    // MARK: schema

    /// The migrations, in order; each runs once per server (recorded in kvmbench_schema).
    static let migrations: [(version: String, statements: [String])] = [
        ("v1", [
            """
            CREATE TABLE runs (id BIGSERIAL PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT, source_path TEXT,
                suite_name TEXT, kvmbench_version TEXT NOT NULL, host_fingerprint TEXT NOT NULL, host_key TEXT NOT NULL,
                kernel_release TEXT NOT NULL, accepted BOOLEAN NOT NULL, UNIQUE (started_at, host_key))
            """,
            """
            CREATE TABLE cases (id BIGSERIAL PRIMARY KEY, run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                case_key TEXT NOT NULL, scenario TEXT NOT NULL, parameters TEXT NOT NULL, status TEXT NOT NULL, reason TEXT)
            """,
            "CREATE INDEX cases_run_id ON cases(run_id)",
            "CREATE INDEX cases_case_key ON cases(case_key)",
            """
            CREATE TABLE metrics (id BIGSERIAL PRIMARY KEY, case_id BIGINT NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
                name TEXT NOT NULL, unit TEXT NOT NULL, better TEXT NOT NULL, gate BOOLEAN NOT NULL,
                median DOUBLE PRECISION, low DOUBLE PRECISION, high DOUBLE PRECISION, samples TEXT NOT NULL)
            """,
            "CREATE INDEX metrics_case_id ON metrics(case_id)",
            "CREATE INDEX metrics_name ON metrics(name)",
        ]),
        ("v2", ["ALTER TABLE runs ADD COLUMN acceptance TEXT"]),
    ]

    /// The versions applied, in order.
    public func schemaVersions() throws -> [String] {
        try read { connection in
            try query(connection, "SELECT version FROM kvmbench_schema ORDER BY applied_at, version").map { try $0.string($1, 0) }
        }
    }

    private func migrate() throws {
        try transaction { connection in
            // Servers before PostgreSQL 12 print doubles rounded unless asked for every digit;
            // newer ones print the shortest text that reads back exactly for any positive value.
            _ = try query(connection, "SET extra_float_digits = 3")
            // One migrating host at a time; the lock ends with the transaction.
            _ = try query(connection, "SELECT pg_advisory_xact_lock(7207307105)")
            _ = try query(connection, "CREATE TABLE IF NOT EXISTS kvmbench_schema (version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
            let applied = Set(try query(connection, "SELECT version FROM kvmbench_schema").map { try $0.string($1, 0) })
            for migration in Self.migrations where !applied.contains(migration.version) {
                for statement in migration.statements { _ = try query(connection, statement) }
                _ = try query(connection, "INSERT INTO kvmbench_schema (version) VALUES ($1)", [PQParameter(migration.version)])
            }
        }
    }

    // MARK: recording

    public func record(_ run: RecordedRun) throws -> HistoryRecordOutcome {
        try transaction { connection in
            let inserted = try query(connection, """
                INSERT INTO runs (started_at, finished_at, source_path, suite_name, kvmbench_version,
                                  host_fingerprint, host_key, kernel_release, accepted, acceptance)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                ON CONFLICT (started_at, host_key) DO NOTHING RETURNING id
                """, [PQParameter(run.startedAt), PQParameter(run.finishedAt), PQParameter(run.sourcePath),
                      PQParameter(run.suiteName), PQParameter(run.kvmbenchVersion), PQParameter(run.hostFingerprint),
                      PQParameter(run.hostKey), PQParameter(run.kernelRelease), PQParameter(run.accepted),
                      PQParameter(run.acceptance)])
            guard inserted.rowCount > 0 else {
                // Another writer (or an earlier try) recorded it; its transaction has committed.
                let present = try query(connection, "SELECT id FROM runs WHERE started_at = $1 AND host_key = $2",
                                        [PQParameter(run.startedAt), PQParameter(run.hostKey)])
                let presentID = try present.rowCount > 0 ? present.int64(0, 0) : -1
                return .alreadyPresent(runID: presentID)
            }
            let runID = try inserted.int64(0, 0)
            for item in run.cases {
                let caseID = try query(connection, """
                    INSERT INTO cases (run_id, case_key, scenario, parameters, status, reason)
                    VALUES ($1, $2, $3, $4, $5, $6) RETURNING id
                    """, [PQParameter(runID), PQParameter(item.caseKey), PQParameter(item.scenario),
                          PQParameter(item.parameters), PQParameter(item.status), PQParameter(item.reason)]).int64(0, 0)
                guard !item.metrics.isEmpty else { continue }
                // One statement per case: every metric row in one VALUES list of placeholders.
                var parameters: [PQParameter] = []
                parameters.reserveCapacity(item.metrics.count * 9)
                var tuples: [String] = []
                for (index, metric) in item.metrics.enumerated() {
                    let base = index * 9
                    tuples.append("(" + (1...9).map { "$\(base + $0)" }.joined(separator: ",") + ")")
                    parameters += [PQParameter(caseID), PQParameter(metric.name), PQParameter(metric.unit),
                                   PQParameter(metric.better), PQParameter(metric.gate), PQParameter(metric.median),
                                   PQParameter(metric.low), PQParameter(metric.high), PQParameter(metric.samples)]
                }
                _ = try query(connection, """
                    INSERT INTO metrics (case_id, name, unit, better, gate, median, low, high, samples)
                    VALUES \(tuples.joined(separator: ","))
                    """, parameters)
            }
            return .recorded(runID: runID)
        }
    }

    // MARK: reading

    public func accept(runID: Int64, reason: String) throws -> Bool {
        try transaction { connection in
            try query(connection, "UPDATE runs SET accepted = TRUE, acceptance = $1 WHERE id = $2 RETURNING id",
                      [PQParameter(RecordedRun.acceptedByHand(reason)), PQParameter(runID)]).rowCount > 0
        }
    }

    /// `(host_key = $n OR host_key LIKE $n+1)` for a host key or a hostname.
    private static func hostFilter(_ column: String, _ host: String, _ parameters: inout [PQParameter]) -> String {
        let first = parameters.count + 1
        parameters += [PQParameter(host), PQParameter(host + "-%")]
        return "(\(column) = $\(first) OR \(column) LIKE $\(first + 1))"
    }

    public func runs(host: String?) throws -> [RunRecord] {
        var parameters: [PQParameter] = []
        var sql = """
            SELECT r.id, r.started_at, r.finished_at, r.source_path, r.suite_name, r.kvmbench_version, r.host_key,
                   r.kernel_release, r.accepted, (SELECT COUNT(*) FROM cases c WHERE c.run_id = r.id) AS case_count,
                   r.host_fingerprint, r.acceptance
            FROM runs r
            """
        if let host { sql += " WHERE " + Self.hostFilter("r.host_key", host, &parameters) }
        sql += " ORDER BY r.started_at, r.id"
        return try read { connection in
            try query(connection, sql, parameters).map { result, row in
                RunRecord(id: try result.int64(row, 0), startedAt: try result.string(row, 1), finishedAt: result.text(row, 2),
                          sourcePath: result.text(row, 3), suiteName: result.text(row, 4), kvmbenchVersion: try result.string(row, 5),
                          hostKey: try result.string(row, 6), kernelRelease: try result.string(row, 7), accepted: try result.bool(row, 8),
                          acceptance: result.text(row, 11), caseCount: Int(try result.int64(row, 9)),
                          hostFingerprint: try result.string(row, 10))
            }
        }
    }

    public func recordedRuns(ids: [Int64]?) throws -> [RecordedRun] {
        let columns = """
            SELECT id, started_at, finished_at, source_path, suite_name, kvmbench_version, host_fingerprint,
                   host_key, kernel_release, accepted, acceptance FROM runs
            """
        let selectRuns = ids == nil ? columns + " ORDER BY started_at, id" : columns + " WHERE id = ANY($1) ORDER BY started_at, id"
        let runParameters = ids.map { [PQParameter($0)] } ?? []
        return try read { connection in
            var runs = try query(connection, selectRuns, runParameters).map { result, row in
                RecordedRun(id: try result.int64(row, 0), startedAt: try result.string(row, 1), finishedAt: result.text(row, 2),
                            sourcePath: result.text(row, 3), suiteName: result.text(row, 4), kvmbenchVersion: try result.string(row, 5),
                            hostFingerprint: try result.string(row, 6), hostKey: try result.string(row, 7),
                            kernelRelease: try result.string(row, 8), accepted: try result.bool(row, 9),
                            acceptance: result.text(row, 10), cases: [])
            }
            let order = runs.compactMap(\.id)
            guard !order.isEmpty else { return [] }
            var casesByRun: [Int64: [(id: Int64, row: RecordedRun.Case)]] = [:]
            let cases = try query(connection, """
                SELECT id, run_id, case_key, scenario, parameters, status, reason FROM cases
                WHERE run_id = ANY($1) ORDER BY id
                """, [PQParameter(order)])
            for row in 0..<cases.rowCount {
                casesByRun[try cases.int64(row, 1), default: []].append(
                    (try cases.int64(row, 0), RecordedRun.Case(caseKey: try cases.string(row, 2), scenario: try cases.string(row, 3),
                                                               parameters: try cases.string(row, 4), status: try cases.string(row, 5),
                                                               reason: cases.text(row, 6), metrics: [])))
            }
            var metricsByCase: [Int64: [RecordedRun.MetricRow]] = [:]
            let metrics = try query(connection, """
                SELECT m.case_id, m.name, m.unit, m.better, m.gate, m.median, m.low, m.high, m.samples
                FROM metrics m JOIN cases c ON m.case_id = c.id WHERE c.run_id = ANY($1) ORDER BY m.id
                """, [PQParameter(order)])
            for row in 0..<metrics.rowCount {
                metricsByCase[try metrics.int64(row, 0), default: []].append(
                    RecordedRun.MetricRow(name: try metrics.string(row, 1), unit: try metrics.string(row, 2),
                                          better: try metrics.string(row, 3), gate: try metrics.bool(row, 4),
                                          median: try metrics.optionalDouble(row, 5), low: try metrics.optionalDouble(row, 6),
                                          high: try metrics.optionalDouble(row, 7), samples: try metrics.string(row, 8)))
            }
            for index in runs.indices {
                runs[index].cases = (casesByRun[order[index]] ?? []).map { item in
                    var row = item.row
                    row.metrics = metricsByCase[item.id] ?? []
                    return row
                }
            }
            return runs
        }
    }

    public func series(metric: String, caseKey: String?, scenario: String?, host: String?, acceptedOnly: Bool) throws -> [SeriesPoint] {
        var parameters = [PQParameter(metric)]
        var sql = """
            SELECT r.id, r.started_at, r.host_key, r.kernel_release, r.accepted, c.case_key, c.scenario,
                   m.name, m.unit, m.better, m.gate, m.median, m.low, m.high, m.samples
            FROM metrics m JOIN cases c ON m.case_id = c.id JOIN runs r ON c.run_id = r.id
            WHERE m.name = $1 AND c.status = 'ok'
            """
        if let caseKey { parameters.append(PQParameter(caseKey)); sql += " AND c.case_key = $\(parameters.count)" }
        if let scenario { parameters.append(PQParameter(scenario)); sql += " AND c.scenario = $\(parameters.count)" }
        if let host { sql += " AND " + Self.hostFilter("r.host_key", host, &parameters) }
        if acceptedOnly { sql += " AND r.accepted" }
        sql += " ORDER BY r.host_key, c.case_key, r.started_at, r.id"
        return try read { connection in
            try query(connection, sql, parameters).map { result, row in
                SeriesPoint(runID: try result.int64(row, 0), startedAt: try result.string(row, 1), hostKey: try result.string(row, 2),
                            kernelRelease: try result.string(row, 3), accepted: try result.bool(row, 4),
                            caseKey: try result.string(row, 5), scenario: try result.string(row, 6), metric: try result.string(row, 7),
                            unit: try result.string(row, 8), better: try result.string(row, 9), gate: try result.bool(row, 10),
                            median: try result.optionalDouble(row, 11), low: try result.optionalDouble(row, 12),
                            high: try result.optionalDouble(row, 13), samples: try result.string(row, 14))
            }
        }
    }

    public func gatedSeriesKeys(host: String?) throws -> [(host: String, caseKey: String, metric: String)] {
        var parameters: [PQParameter] = []
        var sql = """
            SELECT DISTINCT r.host_key, c.case_key, m.name
            FROM metrics m JOIN cases c ON m.case_id = c.id JOIN runs r ON c.run_id = r.id
            WHERE m.gate AND c.status = 'ok'
            """
        if let host { sql += " AND " + Self.hostFilter("r.host_key", host, &parameters) }
        sql += " ORDER BY r.host_key, c.case_key, m.name"
        return try read { connection in
            try query(connection, sql, parameters).map { result, row in
                (host: try result.string(row, 0), caseKey: try result.string(row, 1), metric: try result.string(row, 2))
            }
        }
    }
}

/// A history server that cannot be reached or refused a statement; `message` says which and why.
public struct HistoryServerError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension HistoryStores {
    /// The URL with its password replaced by "***", for messages and `location`.
    public static func redacted(_ text: String) -> String {
        guard var url = URLComponents(string: text), url.password != nil else { return text }
        url.password = "***"
        return url.string ?? text
    }
}
