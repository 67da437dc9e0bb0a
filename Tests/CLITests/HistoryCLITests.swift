import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing

/// `kvmbench history` on a temporary database filled from doctored copies of the committed real
/// nightly result.
@Suite("command line: history")
struct HistoryCLITests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let nightly = root.appendingPathComponent("Reports/sample/nightly.json")

    /// Writes `count` nights: the nightly moved on a day each, the first case's first gated metric
    /// 30% higher from night `stepAt`, every value wobbling by a fixed ±1.5%. Returns the files.
    static func writeNights(_ count: Int, stepAt: Int, into folder: URL, firstCaseOnly: Bool = false) throws -> (files: [URL], caseMetric: String) {
        let wobble = [1.0, 1.012, 0.991, 1.004, 0.985, 1.015, 0.996, 1.008, 0.989, 1.013, 0.994, 1.006]
        let data = try Data(contentsOf: nightly)
        var files: [URL] = []
        var metricName = ""
        for night in 0..<count {
            var document = try DoctoredNightly.night(night, of: data)
            var cases = document["cases"] as! [[String: Any]]
            if firstCaseOnly { cases = Array(cases.prefix(1)) }
            metricName = DoctoredNightly.scale(&cases, by: wobble[night % wobble.count], firstGatedBy: night >= stepAt ? 1.3 : 1)
            document["cases"] = cases
            let file = folder.appendingPathComponent("night-\(night).json")
            try JSONSerialization.data(withJSONObject: document).write(to: file)
            files.append(file)
        }
        return (files, metricName)
    }

    static func temporaryFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kvmbench-history-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    @Test func importListShowAndChanges() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let database = folder.appendingPathComponent("history.sqlite").path
        let (files, metric) = try Self.writeNights(12, stepAt: 6, into: folder)

        // Given newest first, imported oldest first.
        let imported = try CLI.run(["history", "import", "--history", database] + files.reversed().map(\.path))
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("12 of 12 imported"), "\(imported.stdout)")
        let again = try CLI.run(["history", "import", "--history", database, files[3].path])
        #expect(again.stdout.contains("0 of 1 imported") && again.stdout.contains("already recorded"), "\(again.stdout)")

        // The environment variable names the database too.
        let list = try CLI.run(["history", "list", "--json"], environment: ["KVMBENCH_HISTORY": database])
        #expect(list.status == 0, "\(list.stderr)")
        let runs = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        #expect(runs.count == 12)
        let starts = runs.map { $0["started_at"] as! String }
        #expect(starts == starts.sorted())
        #expect(runs.map { $0["source_path"] as! String }.first?.hasSuffix("night-0.json") == true)
        let table = try CLI.run(["history", "list", "--history", database])
        #expect(table.stdout.contains("host ") && table.stdout.contains("accepted"), "\(table.stdout)")

        let show = try CLI.run(["history", "show", metric, "--scenario", "demand-paging", "--history", database])
        #expect(show.status == 0, "\(show.stderr)")
        #expect(show.stdout.contains("median") && show.stdout.contains("interval") && show.stdout.contains(" ms"), "\(show.stdout)")

        let changes = try CLI.run(["history", "changes", "--json", "--history", database])
        #expect(changes.status == 0, "\(changes.stderr)")
        let found = try #require(try JSONSerialization.jsonObject(with: Data(changes.stdout.utf8)) as? [[String: Any]])
        #expect(found.count == 1, "\(changes.stdout)")
        #expect(found.first?["metric"] as? String == metric)
        #expect(found.first?["run_id"] as? Int == runs[6]["id"] as? Int)
        let text = try CLI.run(["history", "changes", "--history", database])
        #expect(text.stdout.contains(metric) && text.stdout.contains("+30.0%"), "\(text.stdout)")
    }

    /// `history show --html`: one trend chart per case with every run a dot and the step marked
    /// at the run where it starts.
    @Test func showWritesTrendChartsWithTheChangePointMarked() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let database = folder.appendingPathComponent("history.sqlite").path
        let (files, metric) = try Self.writeNights(12, stepAt: 6, into: folder, firstCaseOnly: true)
        let imported = try CLI.run(["history", "import", "--history", database] + files.map(\.path))
        #expect(imported.status == 0, "\(imported.stderr)")
        let list = try CLI.run(["history", "list", "--json", "--history", database])
        let runs = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        let page = folder.appendingPathComponent("trend.html")
        let show = try CLI.run(["history", "show", metric, "--history", database, "--html", page.path])
        #expect(show.status == 0, "\(show.stderr)")
        #expect(show.stdout.contains("median"), "the table is still printed: \(show.stdout)")
        let xml = try XMLDocument(data: Data(contentsOf: page), options: [])
        let charts = try xml.nodes(forXPath: "//*[local-name()='svg'][@data-chart='trend']")
        #expect(charts.count == 1)
        let dots = try xml.nodes(forXPath: "//*[local-name()='circle'][@class='run']")
        #expect(dots.count == 12)
        let markers = try xml.nodes(forXPath: "//*[local-name()='g'][@class='change-point']")
        #expect(markers.count == 1)
        let marked = (markers.first as? XMLElement)?.attributes?.first { $0.name == "data-run" }?.stringValue
        #expect(marked == String(describing: runs[6]["id"] ?? ""), "marked at run \(marked ?? "none")")
        let table = try xml.nodes(forXPath: "//table[@class='change-points']/tbody/tr")
        #expect(table.count == 1 && table.first?.stringValue?.contains("+30.0%") == true)
    }

    @Test func badInputIsOneLine() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let database = folder.appendingPathComponent("history.sqlite").path
        let window = try CLI.run(["history", "changes", "--window", "1", "--history", database])
        #expect(window.status == 64 && window.stderr.contains("--window must be at least 2"), "\(window.stderr)")
        let missing = try CLI.run(["history", "import", "--history", database, folder.appendingPathComponent("none.json").path])
        #expect(missing.status != 0 && missing.stderr.contains("no such file"), "\(missing.stderr)")
        let unknown = try CLI.run(["history", "show", "no_such_metric", "--history", database])
        #expect(unknown.status == 1 && unknown.stderr.contains("no recorded values of no_such_metric"), "\(unknown.stderr)")
    }

    /// The gate records what it judged; a database it cannot write costs one warning, not the verdict.
    @Test func theGateRecordsItsRunAndFailsSoft() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let database = folder.appendingPathComponent("history.sqlite").path
        // The nightly's first case alone keeps the three gate runs quick.
        var document = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: Self.nightly)) as? [String: Any])
        document["cases"] = Array((document["cases"] as! [Any]).prefix(1))
        let small = folder.appendingPathComponent("one-case.json")
        try JSONSerialization.data(withJSONObject: document).write(to: small)
        let gate = ["gate", "--baseline", small.path, "--result", small.path, "--allow-other-host"]
        let recorded = try CLI.run(gate + ["--history", database])
        let list = try CLI.run(["history", "list", "--json", "--history", database])
        let runs = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        #expect(runs.count == 1, "\(list.stdout) \(recorded.stderr)")
        let unwritable = try CLI.run(gate + ["--history", "/proc/kvmbench/history.sqlite"])
        #expect(unwritable.status == recorded.status)
        let warnings = unwritable.stderr.split(separator: "\n").filter { $0.contains("not recorded in the history") }
        #expect(warnings.count == 1, "\(unwritable.stderr)")
        let skipped = try CLI.run(gate + ["--no-history", "--history", "/proc/kvmbench/history.sqlite"])
        #expect(!skipped.stderr.contains("history"), "\(skipped.stderr)")
    }

    /// Eight ordinary nights recorded; a ninth with the first case's gated metric 30% higher is a
    /// regression against them, an ordinary ninth is not.
    @Test func theGateJudgesARunAgainstTheHistory() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let database = folder.appendingPathComponent("history.sqlite").path
        // The first case alone keeps the gate quick (a debug build bootstraps every metric).
        let (files, metric) = try Self.writeNights(10, stepAt: 9, into: folder, firstCaseOnly: true)
        let imported = try CLI.run(["history", "import", "--accept", "known-good nights", "--history", database] + files.prefix(8).map(\.path))
        #expect(imported.status == 0, "\(imported.stderr)")
        let gate = ["gate", "--against", "history", "--last", "8", "--suite", "nightly", "--history", database, "--no-history"]
        let ordinary = try CLI.run(gate + ["--result", files[8].path])
        #expect(ordinary.status != 2, "\(ordinary.stdout) \(ordinary.stderr)")
        let stepped = try CLI.run(gate + ["--result", files[9].path])
        #expect(stepped.status == 2, "\(stepped.stdout) \(stepped.stderr)")
        #expect(stepped.stdout.contains(metric), "\(stepped.stdout)")
        // A host with no history collects: exit 0, and it says how many runs it has and needs.
        let empty = try CLI.run(["gate", "--suite", "nightly", "--no-history", "--result", files[9].path,
                                 "--history", folder.appendingPathComponent("empty.sqlite").path])
        #expect(empty.status == 0 && empty.stdout.contains("collecting history: 1 of 4 runs on this host; no verdict before run 4"),
                "\(empty.stdout) \(empty.stderr)")
        let both = try CLI.run(["gate", "--against", "history", "--baseline", "nightly", "--result", files[9].path])
        #expect(both.status == 64 && both.stderr.contains("either --baseline NAME or --against history"), "\(both.stderr)")
    }

    /// `history fleet` exits as the gate does, so that a fleet job can fail: 0 while the candidate
    /// kernel's run is ordinary, 2 once a class's gated metric regressed on it (with --json too),
    /// 4 when nothing is comparable, 64 for a --last below 1.
    @Test func theFleetExitStatusSaysWhetherAClassRegressed() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let database = folder.appendingPathComponent("history.sqlite").path
        // One case keeps the debug build's comparisons quick; nights 8 and 9 run the candidate kernel.
        let (files, metric) = try Self.writeNights(10, stepAt: 9, into: folder, firstCaseOnly: true)
        for file in files[8...] {
            var document = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
            var host = try #require(document["host"] as? [String: Any])
            host["kernel_release"] = "6.99.0-fleet-candidate"
            document["host"] = host
            try JSONSerialization.data(withJSONObject: document).write(to: file)
        }
        let fleet = ["history", "fleet", "--last", "8", "--suite", "nightly", "--history", database]
        let empty = try CLI.run(fleet)
        #expect(empty.status == 4 && empty.stdout.contains("no run on kernel"), "\(empty.stdout) \(empty.stderr)")
        #expect(try CLI.run(["history", "import", "--accept", "known-good nights", "--history", database] + files.prefix(9).map(\.path)).status == 0)
        let ordinary = try CLI.run(fleet)
        #expect(ordinary.status == 0, "\(ordinary.stdout) \(ordinary.stderr)")
        #expect(ordinary.stdout.contains("0 of 1"), "\(ordinary.stdout)")
        #expect(try CLI.run(["history", "import", "--accept", "known-good nights", "--history", database, files[9].path]).status == 0)
        let regressed = try CLI.run(fleet + ["--json"])
        #expect(regressed.status == 2, "\(regressed.stdout) \(regressed.stderr)")
        let view = try #require(try JSONSerialization.jsonObject(with: Data(regressed.stdout.utf8)) as? [String: Any])
        let rows = try #require((view["classes"] as? [[String: Any]])?.first?["metrics"] as? [[String: Any]])
        #expect(rows.filter { !($0["regressed"] as! [String]).isEmpty }.map { $0["metric"] as! String } == [metric], "\(rows)")
        let last = try CLI.run(["history", "fleet", "--last", "0", "--history", database])
        #expect(last.status == 64 && last.stderr.contains("--last must be at least 1 run, not 0"), "\(last.stderr)")
    }

    /// A kernel that crashes guests fails the fleet (exit 3) and one whose host can no longer run a
    /// case the class's history measured fails it too (exit 2), whatever the compared metrics say.
    @Test func theFleetFailsOnFailedAndNewlyUnsupportedCases() throws {
        for (status, exit) in [("failed", Int32(3)), ("unsupported", Int32(2))] {
            let folder = try Self.temporaryFolder()
            defer { try? FileManager.default.removeItem(at: folder) }
            let database = folder.appendingPathComponent("history.sqlite").path
            let (files, _) = try Self.writeNights(9, stepAt: 99, into: folder, firstCaseOnly: true)
            var document = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: files[8])) as? [String: Any])
            var host = try #require(document["host"] as? [String: Any])
            host["kernel_release"] = "6.99.0-fleet-candidate"
            document["host"] = host
            var cases = try #require(document["cases"] as? [[String: Any]])
            cases[0]["status"] = status
            cases[0]["reason"] = "vCPU 0: KVM_EXIT_SHUTDOWN"
            cases[0]["metrics"] = [Any]()
            document["cases"] = cases
            try JSONSerialization.data(withJSONObject: document).write(to: files[8])
            #expect(try CLI.run(["history", "import", "--accept", "known-good nights", "--history", database] + files.map(\.path)).status == 0)
            let fleet = try CLI.run(["history", "fleet", "--last", "8", "--suite", "nightly", "--history", database])
            #expect(fleet.status == exit, "\(status): \(fleet.stdout) \(fleet.stderr)")
            #expect(fleet.stdout.contains(status == "failed" ? "FAILED" : "NEWLY UNSUPPORTED"), "\(fleet.stdout)")
        }
    }
}
