import Foundation
import Testing
@testable import History
import Results
import Statistics

/// What every history store shares: the rows of a run, the generic pooling that the PostgreSQL
/// store uses, and migration between stores (here SQLite to SQLite; PostgreSQL in CLITests).
@Suite("history stores")
struct HistoryStoreTests {
    static let accepted = RunAcceptance(accepted: true, reason: "gate passed (test)")

    /// The run series holds, per case and metric, one median per earlier accepted run of the same
    /// host and suite, oldest first and at most `last`: unjudged runs and runs that started after
    /// the judged one are left out.
    @Test func theRunSeriesHoldsOneMedianPerEarlierAcceptedRun() throws {
        let database = try HistoryFixtures.temporaryDatabase()
        var base = try HistoryFixtures.nightly()
        base.cases = Array(base.cases.prefix(3))
        let metric = try #require(base.cases[0].metrics.first { $0.gate }).name
        let nights = (0..<8).map { HistoryFixtures.night($0, of: base, metric: metric, step: 1, stepAt: 99) }
        for night in [0, 1, 2, 4, 5] { try database.record(nights[night], acceptance: Self.accepted) }
        try database.record(nights[3])   // unjudged
        try database.record(nights[7], acceptance: Self.accepted)   // after the judged run
        let tonight = nights[6]
        let medians = { (night: Int) in Summary.median(of: try! #require(nights[night].cases[0].metric(named: metric)).samples) }
        for (last, used) in [(10, [0, 1, 2, 4, 5]), (2, [4, 5])] {
            let series = try database.runSeries(for: tonight, last: last)
            #expect(series.runIDs.count == used.count, "last \(last)")
            let samples = try #require(series.document.cases.first { $0.key == base.cases[0].key }?.metric(named: metric)).samples
            #expect(samples == used.map(medians), "last \(last)")
        }
    }

    /// A run recorded before a parameter existed is the same case once `upgrade` fills it in (the
    /// CLI passes `CurrentDeclarations.upgrade`).
    @Test func upgradedOldRunsJoinTheSeriesOfTheCurrentCase() throws {
        let database = try HistoryFixtures.temporaryDatabase()
        var base = try HistoryFixtures.nightly()
        base.cases = Array(base.cases.prefix(1))
        let metric = try #require(base.cases[0].metrics.first { $0.gate }).name
        var old = HistoryFixtures.night(0, of: base, metric: metric, step: 1, stepAt: 99)
        old.cases[0].parameters.removeValue(forKey: "seed")
        try database.record(old, acceptance: Self.accepted)
        let tonight = HistoryFixtures.night(1, of: base, metric: metric, step: 1, stepAt: 99)
        let plain = try database.runSeries(for: tonight, last: 10)
        #expect(plain.document.cases.first { $0.key == tonight.cases[0].key }?.metric(named: metric)?.samples == [])
        let seed = try #require(tonight.cases[0].parameters["seed"])
        let upgraded = try database.runSeries(for: tonight, last: 10) { item in
            var copy = item
            if copy.parameters["seed"] == nil { copy.parameters["seed"] = seed }
            return copy
        }
        #expect(upgraded.document.cases.first { $0.key == tonight.cases[0].key }?.metric(named: metric)?.samples.count == 1)
        #expect(upgraded.document.cases.count == 1)
    }

    /// A host with no history: every measured case of the run is there, with empty series.
    @Test func aNewHostHasEmptySeries() throws {
        let database = try HistoryFixtures.temporaryDatabase()
        let tonight = try HistoryFixtures.nightly()
        try database.record(tonight)   // unjudged, and the judged run itself
        let series = try database.runSeries(for: tonight, last: 10)
        #expect(series.runIDs.isEmpty)
        #expect(series.document.cases.map(\.key) == tonight.cases.filter { $0.status == .ok }.map(\.key))
        #expect(series.document.cases.allSatisfy { $0.metrics.allSatisfy { $0.samples.isEmpty } })
    }

    /// Only a gate or `history accept` puts a run into the pool, and the reason is kept with it.
    @Test func acceptanceIsRecordedAndCanBeGivenByHand() throws {
        let database = try HistoryFixtures.temporaryDatabase()
        let base = try HistoryFixtures.nightly()
        let metric = try #require(base.cases[0].metrics.first { $0.gate }).name
        try database.record(HistoryFixtures.night(0, of: base, metric: metric, step: 1, stepAt: 99))
        try database.record(HistoryFixtures.night(1, of: base, metric: metric, step: 1, stepAt: 99), acceptance: Self.accepted)
        var runs = try database.runs()
        #expect(runs.map(\.accepted) == [false, true])
        #expect(runs.map(\.acceptance) == ["unjudged: recorded without a gate", "gate passed (test)"])
        #expect(try database.accept(runID: runs[0].id, reason: "known-good kernel"))
        #expect(try !database.accept(runID: 999, reason: "no such run"))
        runs = try database.runs()
        #expect(runs[0].accepted && runs[0].acceptance == "accepted by hand: known-good kernel")
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
