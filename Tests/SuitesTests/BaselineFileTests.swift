import Foundation
import Results
import Pipeline
import Suites
import Testing
import TestSupport

@Suite("baselines and result files: storage and bad input")
struct BaselineFileTests {
    static func savedDocument() throws -> (URL, Data) {
        let document = Fixtures.document([Fixtures.timeCase(vcpus: 1), Fixtures.timeCase(vcpus: 2)])
        return (URL(fileURLWithPath: "/dev/null"), try document.encoded())
    }

    @Test func namesAreValidated() {
        for good in ["nightly", "v6.18-rc1", "reference/memslots-scalable-v4", "a_b.c"] {
            #expect((try? BaselineStore.validate(good)) != nil, "\(good)")
        }
        for bad in ["", "a/b", "../x", "x/../y", ".hidden", "reference/../x", "reference/a/b", "/abs", "a b", "reference/"] {
            #expect(throws: SuiteError.self, "\(bad)") { try BaselineStore.validate(bad) }
        }
    }

    @Test func aSavedBaselineIsTheResultDocumentPlusAHeader() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = BaselineStore(directory: directory)
        let document = Fixtures.document([Fixtures.timeCase(vcpus: 1)])
        let created = Date(timeIntervalSince1970: 1_800_000_000)
        let acceptance = BaselineAcceptance(reason: "6.18 release, quiet host", kernelCommit: "0123abcd",
                                            tool: ToolInfo(version: "0.1.0", gitCommit: "feedbeef"), acceptedBy: "ci")
        let url = try store.save(document, as: "main", source: "Reports/x.json", created: created, acceptance: acceptance)
        #expect(url.path == directory.appendingPathComponent("main.json").path)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        #expect(object["schema_version"] as? Int == 1)
        #expect(object["cases"] != nil && object["host"] != nil && object["kvmbench"] != nil)
        let header = try #require(object["baseline"] as? [String: Any])
        #expect(header["name"] as? String == "main" && header["source"] as? String == "Reports/x.json")
        let loaded = try store.load("main")
        // Read as the current declarations name it; the file holds the document as it was given.
        #expect(loaded.document == CurrentDeclarations.upgrade(document))
        #expect(try DocumentLoader.load(url, asStored: true).document == document)
        #expect(loaded.baseline == BaselineHeader(name: "main", created: created, source: "Reports/x.json",
                                                  reason: "6.18 release, quiet host", kernelRelease: "6.18.0",
                                                  kernelCommit: "0123abcd", kvmbenchVersion: "0.1.0 (feedbeef)", acceptedBy: "ci"))
        #expect(header["reason"] as? String == "6.18 release, quiet host" && header["kernel_commit"] as? String == "0123abcd")
        #expect(!loaded.isReference)
        #expect(store.names == ["main"])
        // A result file by path, and the same baseline by name.
        #expect(try DocumentArgument.load(url.path, store: store).document == CurrentDeclarations.upgrade(document))
        #expect(try DocumentArgument.load("main", store: store).label == "main")
    }

    @Test func savingNeverWritesOverWithoutBeingAsked() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = BaselineStore(directory: directory)
        try store.save(Fixtures.document([Fixtures.timeCase(vcpus: 1)]), as: "main", source: "a")
        let before = try Data(contentsOf: store.url(of: "main"))
        do {
            try store.save(Fixtures.document([Fixtures.timeCase(vcpus: 2)]), as: "main", source: "b")
            Issue.record("overwritten")
        } catch {
            #expect(error.kind == .usage && error.message.contains("already exists"), "\(error.message)")
        }
        #expect(try Data(contentsOf: store.url(of: "main")) == before)
        do {
            try store.save(Fixtures.document([Fixtures.timeCase(vcpus: 2)]), as: "reference/mine", source: "b")
            Issue.record("reference written")
        } catch {
            #expect(error.message.contains("reference baselines hold published figures"), "\(error.message)")
        }
        var interrupted = Fixtures.document([Fixtures.timeCase(vcpus: 2)])
        interrupted.interrupted = true
        #expect(throws: SuiteError.self) { try store.save(interrupted, as: "partial", source: "c") }
        #expect(!store.exists("partial"))
        try store.save(Fixtures.document([Fixtures.timeCase(vcpus: 2)]), as: "main", source: "b", replace: true)
        #expect(try store.load("main").baseline?.source == "b")
    }

    /// A baseline judges every later run: an interrupted run, failed cases, a busy host or noisy
    /// gated metrics are refused unless forced, and what was forced is recorded.
    @Test func untrustworthyRunsNeedForceAndSaySo() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = BaselineStore(directory: directory)
        var failed = Fixtures.timeCase(vcpus: 2, samples: [])
        failed.status = .failed
        failed.reason = "guest shutdown"
        var busy = Fixtures.timeCase(vcpus: 1)
        busy.metrics.append(Metric(name: HostLoad.metricName, unit: .percent, better: .lower, samples: [40, 45, 50], gate: false))
        let noisy = Fixtures.timeCase(vcpus: 4, samples: [100, 180, 95, 250, 60])
        var interrupted = Fixtures.document([Fixtures.timeCase(vcpus: 1)])
        interrupted.interrupted = true
        let runs: [(String, ResultDocument, String)] = [
            ("failed", Fixtures.document([Fixtures.timeCase(vcpus: 1), failed]), "failed cases: demand-paging[vcpus=2] (guest shutdown)"),
            ("busy", Fixtures.document([busy]), "busy host: other processes used more than 10% of the CPUs during demand-paging[vcpus=1] (45%)"),
            ("noisy", Fixtures.document([noisy]), "noisy gated metrics (robust spread above 30%): demand-paging[vcpus=4] first_touch_time"),
            ("partial", interrupted, "interrupted: the run stopped before every case had run"),
        ]
        for (name, document, problem) in runs {
            do {
                try store.save(document, as: name, source: "\(name).json")
                Issue.record("\(name) saved")
            } catch {
                #expect(error.kind == .usage && error.message.contains(problem) && error.message.contains("--force"), "\(error.message)")
            }
            #expect(!store.exists(name))
            try store.save(document, as: name, source: "\(name).json", acceptance: BaselineAcceptance(reason: "known", force: true))
            let header = try #require(try store.load(name).baseline)
            #expect(header.forced?.contains { $0.hasPrefix(problem) } == true, "\(header.forced ?? [])")
        }
        #expect(BaselineStore.trustProblems(Fixtures.document([Fixtures.timeCase(vcpus: 1)])).isEmpty)
    }

    @Test func aMissingBaselineListsTheKnownOnes() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = BaselineStore(directory: directory)
        try store.save(Fixtures.document([Fixtures.timeCase(vcpus: 1)]), as: "main", source: "a")
        do {
            _ = try DocumentArgument.load("mian", store: store)
            Issue.record("found")
        } catch {
            #expect(error.kind == .baseline)
            #expect(error.message.contains("no baseline named 'mian'") && error.message.contains("baselines: main"), "\(error.message)")
        }
        #expect(throws: SuiteError.self) { try DocumentArgument.load("nothere.json", store: store) }
    }

    /// Each: the file's text, phrases the one-line error must contain (the path is checked too).
    static let broken: [(String, [String])] = [
        ("", ["the file is empty"]),
        ("{\"schema_version\": 1, \"cases\": [", ["not valid JSON at line 1, column 33 (byte 32)", "truncated"]),
        ("{\n  \"schema_version\": 1,\n  \"cases\": [1,]\n}", ["not valid JSON at line 3, column 15 (byte 39)", "expected a value"]),
        ("{\"schema_version\": 1} trailing", ["line 1, column 23 (byte 22)", "unexpected data after the end"]),
        ("[1, 2]", ["not a kvmbench result document"]),
        ("{\"cases\": []}", ["has no schema_version"]),
        ("{\"schema_version\": 2, \"something_new\": true}", ["written by a newer kvmbench (schema_version 2; this kvmbench reads up to 1)"]),
        ("{\"schema_version\": 1, \"cases\": []}", ["not a valid kvmbench result document", "required field 'kvmbench' is missing"]),
    ]

    @Test(arguments: 0..<broken.count)
    func brokenFilesAreClearErrorsWithPathAndPosition(index: Int) throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (text, phrases) = Self.broken[index]
        let url = try Fixtures.write(text, name: "result.json", in: directory)
        do {
            _ = try DocumentLoader.load(url)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.kind == .baseline)
            #expect(error.message.hasPrefix(url.path + ": "), "\(error.message)")
            for phrase in phrases { #expect(error.message.contains(phrase), "\(error.message)") }
        }
    }

    @Test func aWrongValueDeepInADocumentIsNamedByItsPath() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = try Fixtures.document([Fixtures.timeCase(vcpus: 1)]).encoded()
        var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        var cases = try #require(object["cases"] as? [[String: Any]])
        var metrics = try #require(cases[0]["metrics"] as? [[String: Any]])
        metrics[1]["samples"] = [1.0, "fast", 3.0]
        cases[0]["metrics"] = metrics
        object["cases"] = cases
        let url = directory.appendingPathComponent("typed.json")
        try JSONSerialization.data(withJSONObject: object).write(to: url)
        do {
            _ = try DocumentLoader.load(url)
            Issue.record("accepted")
        } catch {
            #expect(error.message.contains("at cases[0].metrics[1].samples[1]: expected a number"), "\(error.message)")
        }
    }

    @Test func aTruncatedRealBaselineIsRefusedAndNothingIsWrittenOver() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = BaselineStore(directory: directory)
        try store.save(Fixtures.document([Fixtures.timeCase(vcpus: 1)]), as: "good", source: "a")
        let full = try Data(contentsOf: store.url(of: "good"))
        let truncated = full.prefix(full.count * 2 / 3)
        try truncated.write(to: store.url(of: "cut"))
        do {
            _ = try store.load("cut")
            Issue.record("accepted")
        } catch {
            #expect(error.kind == .baseline)
            #expect(error.message.contains("cut.json: not valid JSON at line "), "\(error.message)")
            #expect(error.message.contains("(byte \(truncated.count))"), "\(error.message)")
        }
        #expect(try Data(contentsOf: store.url(of: "cut")) == truncated)
        #expect(try Data(contentsOf: store.url(of: "good")) == full)
    }

    @Test func theSyntaxCheckerAcceptsJSONAndPointsAtTheFirstError() {
        for good in ["{}", "[]", "0", "-1.5e+10", "\"a\\u00e9\\n\"", "{\"a\": [true, false, null, {\"b\": 1}]}", " \n{ } \n"] {
            #expect(JSONSyntaxCheck.firstProblem(in: Array(good.utf8)) == nil, "\(good)")
        }
        let cases: [(String, Int)] = [("{", 1), ("[1 2]", 3), ("{\"a\" 1}", 5), ("01", 1), ("\"\\x\"", 2), ("nul", 3), ("[1,]", 3), ("\"abc", 4)]
        for (bad, offset) in cases {
            #expect(JSONSyntaxCheck.firstProblem(in: Array(bad.utf8))?.offset == offset, "\(bad)")
        }
        let multiline = JSONSyntaxCheck.firstProblem(in: Array("{\n\"a\":\n  x}".utf8))
        #expect(multiline?.line == 3 && multiline?.column == 3)
    }
}
