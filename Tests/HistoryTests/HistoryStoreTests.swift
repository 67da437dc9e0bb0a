import Foundation
import Testing
@testable import History
import Results
import Statistics

/// What every history store shares: the rows of a run, the generic pooling that the PostgreSQL
/// store uses, and migration between stores (here SQLite to SQLite; PostgreSQL in CLITests).
@Suite("history stores")
struct HistoryStoreTests {
    /// The generic pooled baseline (from runs and recorded rows) is the SQLite query's, run for run.
    @Test func theGenericPooledBaselineMatchesTheSQLiteQuery() throws {
        let database = try HistoryFixtures.temporaryDatabase()
        var base = try HistoryFixtures.nightly()
        base.cases = Array(base.cases.prefix(3))
        let metric = try #require(base.cases[0].metrics.first { $0.gate }).name
        for night in 0..<6 { try database.record(HistoryFixtures.night(night, of: base, metric: metric, step: 1, stepAt: 99)) }
        let tonight = HistoryFixtures.night(6, of: base, metric: metric, step: 1, stepAt: 99)
        for last in [1, 3, 10] {
            let query = try #require(try database.pooledBaseline(for: tonight, last: last))
            let generic = try #require(try database.pooledBaselineFromRuns(for: tonight, last: last))
            #expect(query.runIDs == generic.runIDs)
            #expect(query.document.cases == generic.document.cases, "last \(last)")
            #expect(query.document.host == generic.document.host)
        }
    }

    /// A run read back as rows is the run recorded; recording those rows elsewhere copies it once.
    @Test func migrationCopiesEveryRowOnce() throws {
        let source = try HistoryFixtures.temporaryDatabase()
        let destination = try HistoryFixtures.temporaryDatabase()
        var base = try HistoryFixtures.nightly()
        base.cases = Array(base.cases.prefix(2))
        let metric = try #require(base.cases[0].metrics.first { $0.gate }).name
        for night in 0..<3 { try source.record(HistoryFixtures.night(night, of: base, metric: metric, step: 1, stepAt: 99), sourcePath: "n\(night).json") }
        let rows = try source.recordedRuns(ids: nil)
        #expect(rows.count == 3)
        #expect(rows[0] == { var row = try! RecordedRun(HistoryFixtures.night(0, of: base, metric: metric, step: 1, stepAt: 99), sourcePath: "n0.json"); row.id = rows[0].id; return row }())
        let first = try HistoryStores.migrate(from: source, to: destination)
        #expect(first.copied == 3 && first.present == 0)
        let second = try HistoryStores.migrate(from: source, to: destination)
        #expect(second.copied == 0 && second.present == 3)
        let copied = try destination.recordedRuns(ids: nil).map { run -> RecordedRun in var run = run; run.id = nil; return run }
        #expect(copied == rows.map { run -> RecordedRun in var run = run; run.id = nil; return run })
        #expect(try destination.runs().map(\.hostClass) == Array(repeating: HostKey.hostClass(ofKey: HostKey.of(base.host)), count: 3))
    }

    @Test func aLocationPicksItsStore() throws {
        #expect(HistoryStores.isServerURL("postgres://u@h/db") && HistoryStores.isServerURL("postgresql://h/db"))
        #expect(!HistoryStores.isServerURL("/var/lib/kvmbench/history.sqlite"))
        #expect(HistoryStores.redacted("postgres://u:secret@h:5432/db") == "postgres://u:***@h:5432/db")
        // libpq's own parser and sslmodes, checked before connecting.
        #expect(try PostgresHistory.configuration("postgres://u@h/db?sslmode=verify-full") == "postgres://u@h/db?sslmode=verify-full")
        #expect(throws: HistoryServerError.self) { try PostgresHistory.configuration("postgres://u@h/db?sslmode=sometimes") }
        #expect(throws: HistoryServerError.self) { try PostgresHistory.configuration("postgres://u@h/db?nonsense=1") }
        #expect(throws: HistoryServerError.self) { try PostgresHistory.configuration("/var/lib/kvmbench/history.sqlite") }
    }
}
