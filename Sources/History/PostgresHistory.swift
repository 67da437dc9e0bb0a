import Foundation
#if PostgreSQL
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import PostgresNIO
import Results

/// The history on a PostgreSQL server that many hosts share (`--history postgres://user@host/db`),
/// through postgres-nio. The tables are `HistoryDatabase`'s (runs, cases, metrics; the same
/// columns, BIGINT identities, BOOLEAN and DOUBLE PRECISION where SQLite has its affinities), and
/// `kvmbench_schema(version, applied_at)` records which migrations ran ("v1").
///
/// Concurrent writers are safe: a run and its cases and metrics go in one transaction, and the
/// unique key (started_at, host_key) with `ON CONFLICT DO NOTHING` keeps a run imported twice, or
/// a write retried after a lost connection, once. Migrations run under a transaction-scoped
/// advisory lock, so hosts that start together do not race to create the tables.
///
/// The calls block (EventLoopFuture.wait) on postgres-nio's own event loop threads: the command
/// line is synchronous, and one connection serves one process.
public final class PostgresHistory: HistoryStore {
    public let location: String
    private let connection: PostgresConnection
    private let logger: Logger
    /// One transaction at a time on the one connection.
    private let lock = NIOLock()

    /// Connects to the server `url` names and migrates its schema. The URL: postgres[ql]://user[:password]@host[:port]/database,
    /// optionally ?sslmode=disable|prefer|require (default disable: a lab's loopback or private network).
    public init(url: String) throws {
        let configuration = try Self.configuration(url)
        location = HistoryStores.redacted(url)
        var logger = Logger(label: "kvmbench.history")
        logger.logLevel = .critical
        self.logger = logger
        do {
            connection = try PostgresConnection.connect(on: PostgresConnection.defaultEventLoopGroup.any(),
                                                        configuration: configuration, id: 1, logger: logger).wait()
        } catch {
            throw HistoryServerError("cannot connect to \(location): \(Self.describe(error))")
        }
        try migrate()
    }

    deinit { try? connection.close().wait() }

    // MARK: connection

    static func configuration(_ text: String) throws -> PostgresConnection.Configuration {
        guard let url = URLComponents(string: text), let scheme = url.scheme, ["postgres", "postgresql"].contains(scheme) else {
            throw HistoryServerError("\(HistoryStores.redacted(text)): not a postgres:// URL (postgres://user[:password]@host[:port]/database)")
        }
        let host = url.host.flatMap { $0.isEmpty ? nil : $0 } ?? "localhost"
        let user = url.user.flatMap { $0.removingPercentEncoding } ?? ProcessInfo.processInfo.environment["USER"] ?? "postgres"
        let database = String(url.path.drop { $0 == "/" })
        var tls = PostgresConnection.Configuration.TLS.disable
        let mode = url.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        switch mode {
        case "disable": tls = .disable
        case "prefer", "require":
            do {
                let context = try NIOSSLContext(configuration: .makeClientConfiguration())
                tls = mode == "prefer" ? .prefer(context) : .require(context)
            } catch { throw HistoryServerError("\(HistoryStores.redacted(text)): cannot set up TLS: \(error)") }
        default:
            throw HistoryServerError("\(HistoryStores.redacted(text)): sslmode \(mode) is not one of disable, prefer, require")
        }
        return PostgresConnection.Configuration(host: host, port: url.port ?? 5432, username: user,
                                                password: url.password?.removingPercentEncoding,
                                                database: database.isEmpty ? nil : database, tls: tls)
    }

    /// The server's message (postgres-nio hides it from `description` on purpose).
    static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                return message + (error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
            }
            if let underlying = error.underlying { return "\(error.code): \(underlying)" }
            return "\(error.code)"
        }
        if let error = error as? HistoryServerError { return error.message }
        return "\(error)"
    }

    @discardableResult
    private func query(_ query: PostgresQuery) throws -> PostgresQueryResult {
        do { return try connection.query(query, logger: logger).wait() } catch {
            throw HistoryServerError("\(location): \(Self.describe(error))")
        }
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    private func transaction<T>(_ body: () throws -> T) throws -> T {
        try lock.withLock {
            try query("BEGIN")
            do {
                let value = try body()
                try query("COMMIT")
                return value
            } catch {
                _ = try? query("ROLLBACK")
                throw error
            }
        }
    }

    private func read<T>(_ body: () throws -> T) throws -> T { try lock.withLock(body) }

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
    ]

    /// The versions applied, in order.
    public func schemaVersions() throws -> [String] {
        try read { try query("SELECT version FROM kvmbench_schema ORDER BY applied_at, version").map { try $0.decode(String.self) } }
    }

    private func migrate() throws {
        try transaction {
            // One migrating host at a time; the lock ends with the transaction.
            try query("SELECT pg_advisory_xact_lock(7207307105)")
            try query("CREATE TABLE IF NOT EXISTS kvmbench_schema (version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
            let applied = Set(try query("SELECT version FROM kvmbench_schema").map { try $0.decode(String.self) })
            for migration in Self.migrations where !applied.contains(migration.version) {
                for statement in migration.statements { try query(PostgresQuery(unsafeSQL: statement)) }
                try query("INSERT INTO kvmbench_schema (version) VALUES (\(migration.version))")
            }
        }
    }

    // MARK: recording

    public func record(_ run: RecordedRun) throws -> HistoryRecordOutcome {
        try transaction {
            let inserted = try query("""
                INSERT INTO runs (started_at, finished_at, source_path, suite_name, kvmbench_version,
                                  host_fingerprint, host_key, kernel_release, accepted)
                VALUES (\(run.startedAt), \(run.finishedAt), \(run.sourcePath), \(run.suiteName), \(run.kvmbenchVersion),
                        \(run.hostFingerprint), \(run.hostKey), \(run.kernelRelease), \(run.accepted))
                ON CONFLICT (started_at, host_key) DO NOTHING RETURNING id
                """)
            guard let row = inserted.first else {
                // Another writer (or an earlier try) recorded it; its transaction has committed.
                let id = try query("SELECT id FROM runs WHERE started_at = \(run.startedAt) AND host_key = \(run.hostKey)")
                    .first?.decode(Int64.self)
                return .alreadyPresent(runID: id ?? -1)
            }
            let runID = try row.decode(Int64.self)
            for item in run.cases {
                let caseID = try query("""
                    INSERT INTO cases (run_id, case_key, scenario, parameters, status, reason)
                    VALUES (\(runID), \(item.caseKey), \(item.scenario), \(item.parameters), \(item.status), \(item.reason))
                    RETURNING id
                    """).first!.decode(Int64.self)
                guard !item.metrics.isEmpty else { continue }
                // One statement per case: every metric row in one VALUES list.
                var bindings = PostgresBindings(capacity: item.metrics.count * 9)
                var tuples: [String] = []
                for (index, metric) in item.metrics.enumerated() {
                    let base = index * 9
                    tuples.append("(" + (1...9).map { "$\(base + $0)" }.joined(separator: ",") + ")")
                    bindings.append(caseID)
                    bindings.append(metric.name)
                    bindings.append(metric.unit)
                    bindings.append(metric.better)
                    bindings.append(metric.gate)
                    bindings.append(metric.median)
                    bindings.append(metric.low)
                    bindings.append(metric.high)
                    bindings.append(metric.samples)
                }
                try query(PostgresQuery(unsafeSQL: """
                    INSERT INTO metrics (case_id, name, unit, better, gate, median, low, high, samples)
                    VALUES \(tuples.joined(separator: ","))
                    """, binds: bindings))
            }
            return .recorded(runID: runID)
        }
    }

    // MARK: reading

    /// `(host_key = $n OR host_key LIKE $n+1)` for a host key or a hostname.
    private static func hostFilter(_ column: String, _ host: String, _ bindings: inout PostgresBindings) -> String {
        let first = bindings.count + 1
        bindings.append(host)
        bindings.append(host + "-%")
        return "(\(column) = $\(first) OR \(column) LIKE $\(first + 1))"
    }

    public func runs(host: String?) throws -> [RunRecord] {
        var bindings = PostgresBindings()
        var sql = """
            SELECT r.id, r.started_at, r.finished_at, r.source_path, r.suite_name, r.kvmbench_version, r.host_key,
                   r.kernel_release, r.accepted, (SELECT COUNT(*) FROM cases c WHERE c.run_id = r.id) AS case_count,
                   r.host_fingerprint
            FROM runs r
            """
        if let host { sql += " WHERE " + Self.hostFilter("r.host_key", host, &bindings) }
        sql += " ORDER BY r.started_at, r.id"
        let query = PostgresQuery(unsafeSQL: sql, binds: bindings)
        return try read {
            try self.query(query).map { row in
                let (id, started, finished, source, suite, version, hostKey, kernel, accepted, count, fingerprint) =
                    try row.decode((Int64, String, String?, String?, String?, String, String, String, Bool, Int64, String).self)
                return RunRecord(id: id, startedAt: started, finishedAt: finished, sourcePath: source, suiteName: suite,
                                 kvmbenchVersion: version, hostKey: hostKey, kernelRelease: kernel, accepted: accepted,
                                 caseCount: Int(count), hostFingerprint: fingerprint)
            }
        }
    }

    public func recordedRuns(ids: [Int64]?) throws -> [RecordedRun] {
        var runQuery: PostgresQuery = """
            SELECT id, started_at, finished_at, source_path, suite_name, kvmbench_version, host_fingerprint,
                   host_key, kernel_release, accepted FROM runs ORDER BY started_at, id
            """
        if let ids {
            runQuery = """
                SELECT id, started_at, finished_at, source_path, suite_name, kvmbench_version, host_fingerprint,
                       host_key, kernel_release, accepted FROM runs WHERE id = ANY(\(ids)) ORDER BY started_at, id
                """
        }
        let selectRuns = runQuery
        return try read {
            var runs: [RecordedRun] = []
            var order: [Int64] = []
            for row in try query(selectRuns) {
                let (id, started, finished, source, suite, version, fingerprint, hostKey, kernel, accepted) =
                    try row.decode((Int64, String, String?, String?, String?, String, String, String, String, Bool).self)
                order.append(id)
                runs.append(RecordedRun(id: id, startedAt: started, finishedAt: finished, sourcePath: source, suiteName: suite,
                                        kvmbenchVersion: version, hostFingerprint: fingerprint, hostKey: hostKey,
                                        kernelRelease: kernel, accepted: accepted, cases: []))
            }
            guard !order.isEmpty else { return [] }
            var casesByRun: [Int64: [(id: Int64, row: RecordedRun.Case)]] = [:]
            for row in try query("""
                SELECT id, run_id, case_key, scenario, parameters, status, reason FROM cases
                WHERE run_id = ANY(\(order)) ORDER BY id
                """) {
                let (id, runID, key, scenario, parameters, status, reason) =
                    try row.decode((Int64, Int64, String, String, String, String, String?).self)
                casesByRun[runID, default: []].append((id, RecordedRun.Case(caseKey: key, scenario: scenario, parameters: parameters,
                                                                            status: status, reason: reason, metrics: [])))
            }
            var metricsByCase: [Int64: [RecordedRun.MetricRow]] = [:]
            for row in try query("""
                SELECT m.case_id, m.name, m.unit, m.better, m.gate, m.median, m.low, m.high, m.samples
                FROM metrics m JOIN cases c ON m.case_id = c.id WHERE c.run_id = ANY(\(order)) ORDER BY m.id
                """) {
                let (caseID, name, unit, better, gate, median, low, high, samples) =
                    try row.decode((Int64, String, String, String, Bool, Double?, Double?, Double?, String).self)
                metricsByCase[caseID, default: []].append(RecordedRun.MetricRow(name: name, unit: unit, better: better, gate: gate,
                                                                                 median: median, low: low, high: high, samples: samples))
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
        var bindings = PostgresBindings()
        bindings.append(metric)
        var sql = """
            SELECT r.id, r.started_at, r.host_key, r.kernel_release, r.accepted, c.case_key, c.scenario,
                   m.name, m.unit, m.better, m.gate, m.median, m.low, m.high, m.samples
            FROM metrics m JOIN cases c ON m.case_id = c.id JOIN runs r ON c.run_id = r.id
            WHERE m.name = $1 AND c.status = 'ok'
            """
        if let caseKey { bindings.append(caseKey); sql += " AND c.case_key = $\(bindings.count)" }
        if let scenario { bindings.append(scenario); sql += " AND c.scenario = $\(bindings.count)" }
        if let host { sql += " AND " + Self.hostFilter("r.host_key", host, &bindings) }
        if acceptedOnly { sql += " AND r.accepted" }
        sql += " ORDER BY r.host_key, c.case_key, r.started_at, r.id"
        let query = PostgresQuery(unsafeSQL: sql, binds: bindings)
        return try read {
            try self.query(query).map { row in
                let (runID, started, hostKey, kernel, accepted, key, scenario, name, unit, better, gate, median, low, high, samples) =
                    try row.decode((Int64, String, String, String, Bool, String, String, String, String, String, Bool,
                                    Double?, Double?, Double?, String).self)
                return SeriesPoint(runID: runID, startedAt: started, hostKey: hostKey, kernelRelease: kernel, accepted: accepted,
                                   caseKey: key, scenario: scenario, metric: name, unit: unit, better: better, gate: gate,
                                   median: median, low: low, high: high, samples: samples)
            }
        }
    }

    public func gatedSeriesKeys(host: String?) throws -> [(host: String, caseKey: String, metric: String)] {
        var bindings = PostgresBindings()
        var sql = """
            SELECT DISTINCT r.host_key, c.case_key, m.name
            FROM metrics m JOIN cases c ON m.case_id = c.id JOIN runs r ON c.run_id = r.id
            WHERE m.gate AND c.status = 'ok'
            """
        if let host { sql += " AND " + Self.hostFilter("r.host_key", host, &bindings) }
        sql += " ORDER BY r.host_key, c.case_key, m.name"
        let query = PostgresQuery(unsafeSQL: sql, binds: bindings)
        return try read {
            try self.query(query).map { row in
                let (host, key, name) = try row.decode((String, String, String).self)
                return (host, key, name)
            }
        }
    }

    public func pooledBaseline(for result: ResultDocument, last: Int) throws -> HistoryPooledBaseline? {
        try pooledBaselineFromRuns(for: result, last: last)
    }
}

#endif

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
