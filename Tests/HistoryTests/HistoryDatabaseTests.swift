import Foundation
import Testing
@testable import History
import Results
import Statistics

enum HistoryFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    /// The committed real nightly result of this host.
    static let nightlyURL = root.appendingPathComponent("Reports/sample/nightly.json")
    static func nightly() throws -> ResultDocument {
        try ResultDocument.makeDecoder().decode(ResultDocument.self, from: Data(contentsOf: nightlyURL))
    }

    /// A database in a fresh temporary file.
    static func temporaryDatabase() throws -> HistoryDatabase {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("kvmbench-history-\(UUID().uuidString)/history.sqlite").path
        return try HistoryDatabase(path: path)
    }

    /// Night `night` of a doctored history: the real nightly moved `night` days on, every sample
    /// scaled by a fixed ±2% night-to-night wobble, and `metric` of the first case scaled by `step`
    /// from night `stepAt` on.
    static func night(_ night: Int, of base: ResultDocument, metric: String, step: Double, stepAt: Int) -> ResultDocument {
        let wobble = [1.0, 1.012, 0.991, 1.004, 0.985, 1.017, 0.996, 1.008, 0.989, 1.013, 0.994, 1.006,
                      0.987, 1.011, 1.002, 0.993]
        var document = base
        document.startedAt = base.startedAt.addingTimeInterval(Double(night) * 86_400)
        document.finishedAt = base.finishedAt?.addingTimeInterval(Double(night) * 86_400)
        for c in document.cases.indices {
            for m in document.cases[c].metrics.indices {
                var factor = wobble[night % wobble.count]
                if c == 0 && document.cases[c].metrics[m].name == metric && night >= stepAt { factor *= step }
                // The recorded interval scales too (recomputing 281 bootstraps a night is slow).
                document.cases[c].metrics[m].samples = base.cases[c].metrics[m].samples.map { $0 * factor }
                document.cases[c].metrics[m].median = base.cases[c].metrics[m].median * factor
                document.cases[c].metrics[m].summary?.medianInterval = base.cases[c].metrics[m].summary?.medianInterval?.map { $0 * factor }
            }
        }
        return document
    }
}

@Suite("history database")
struct HistoryDatabaseTests {
    @Test func importingTheSameDocumentTwiceRecordsItOnce() throws {
        let database = try HistoryFixtures.temporaryDatabase()
        let nightly = try HistoryFixtures.nightly()
        let first = try database.record(nightly, sourcePath: "nightly.json")
        guard case .recorded(let id) = first else { Issue.record("first import not recorded: \(first)"); return }
        #expect(try database.record(nightly, sourcePath: "again.json") == .alreadyPresent(runID: id))
        let runs = try database.runs()
        #expect(runs.count == 1)
        #expect(runs[0].caseCount == nightly.cases.count)
        #expect(runs[0].hostKey.hasPrefix(nightly.host.hostname + "-"))
        #expect(runs[0].kernelRelease == nightly.host.kernelRelease)
        #expect(runs[0].sourcePath == "nightly.json")
        // Recorded without a gate: unjudged, outside the pool later gates judge against.
        #expect(!runs[0].accepted && runs[0].acceptance == "unjudged: recorded without a gate")
    }

    @Test func aSeriesHoldsMediansIntervalsAndSamples() throws {
        let database = try HistoryFixtures.temporaryDatabase()
        let base = try HistoryFixtures.nightly()
        let caseKey = base.cases[0].key
        let metric = try #require(base.cases[0].metrics.first { $0.gate })
        for night in 0..<3 {
            try database.record(HistoryFixtures.night(night, of: base, metric: metric.name, step: 1, stepAt: 99))
        }
        let points = try database.series(metric: metric.name, caseKey: caseKey)
        #expect(points.count == 3)
        #expect(points.map(\.startedAt) == points.map(\.startedAt).sorted())
        #expect(points[0].samples == metric.samples)
        #expect(points[0].median == metric.median)
        let low = try #require(points[0].low), high = try #require(points[0].high)
        #expect(low <= metric.median && metric.median <= high)
        #expect(try database.series(metric: metric.name, caseKey: caseKey, host: base.host.hostname).count == 3)
        #expect(try database.series(metric: metric.name, caseKey: caseKey, host: "elsewhere").isEmpty)
        #expect(try database.series(metric: "no_such_metric").isEmpty)
    }

    /// 16 doctored nights, the first case's gated metric 30% slower from night 8 on: the change is
    /// found at night 8 for that case and metric, and nowhere else.
    @Test func changesFindTheDoctoredStepAndNothingElse() throws {
        let database = try HistoryFixtures.temporaryDatabase()
        let base = try HistoryFixtures.nightly()
        let metric = try #require(base.cases[0].metrics.first { $0.gate }).name
        for night in 0..<16 {
            try database.record(HistoryFixtures.night(night, of: base, metric: metric, step: 1.3, stepAt: 8))
        }
        let runs = try database.runs()
        let changes = try database.changes()
        #expect(changes.count == 1, "\(changes.map { "\($0.caseKey) \($0.metric) run \($0.runID)" })")
        let change = try #require(changes.first)
        #expect(change.caseKey == base.cases[0].key && change.metric == metric)
        #expect(change.runID == runs[8].id)
        #expect(abs(change.changePoint.forwardChange - 0.3) < 0.05)
        #expect(change.changePoint.pValue <= 0.001)
    }

    @Test func theDefaultPathFollowsTheOptionThenTheEnvironment() {
        #expect(HistoryDatabase.defaultPath(option: "/x/h.sqlite", environment: ["KVMBENCH_HISTORY": "/y"]) == "/x/h.sqlite")
        #expect(HistoryDatabase.defaultPath(environment: ["KVMBENCH_HISTORY": "/y/h.sqlite", "XDG_DATA_HOME": "/d"]) == "/y/h.sqlite")
        #expect(HistoryDatabase.defaultPath(environment: ["XDG_DATA_HOME": "/d", "HOME": "/home/u"]) == "/d/kvmbench/history.sqlite")
        #expect(HistoryDatabase.defaultPath(environment: ["HOME": "/home/u"]) == "/home/u/.local/share/kvmbench/history.sqlite")
    }

    @Test func theHostKeyIgnoresTheKernelButNotTheMachine() throws {
        let host = try HistoryFixtures.nightly().host
        var newKernel = host
        newKernel.kernelRelease += "-next"
        var moreCPUs = host
        moreCPUs.onlineCPUs += 2
        #expect(HostKey.of(host) == HostKey.of(newKernel))
        #expect(HostKey.of(host) != HostKey.of(moreCPUs))
        #expect(HostKey.of(host) == HostKey.of(host))
    }

    @Test func aDatabaseThatCannotBeCreatedThrows() {
        #expect(throws: (any Error).self) { try HistoryDatabase(path: "/proc/kvmbench/history.sqlite") }
    }
}
