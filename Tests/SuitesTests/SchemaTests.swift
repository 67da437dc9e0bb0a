import Foundation
import Pipeline
import Results
import Suites
import Testing
import TestSupport

/// Validates documents against Schemas/result.schema.json with python3's `jsonschema` (draft 2020-12).
enum SchemaValidator {
    static var schema: URL { Fixtures.root.appendingPathComponent("Schemas/result.schema.json") }

    /// Why python3 with jsonschema cannot be used here, or nil when it can.
    static let unavailable: String? = {
        guard let outcome = try? Python.run(["-c", "import jsonschema; jsonschema.Draft202012Validator"]) else {
            return "\(Python.executable) cannot be started"
        }
        return outcome.status == 0 ? nil
            : "\(Python.executable) has no jsonschema (scripts/install-deps --tests installs it into ~/.cache/kvmbench/venv-tests)"
    }()

    /// The skip comment: fixed words (see `Unavailable`).
    static let needs: Comment = "needs python3 with jsonschema (scripts/install-deps --tests): skipped"

    static let script = """
        import json, sys, jsonschema
        schema = json.load(open(sys.argv[1]))
        jsonschema.Draft202012Validator.check_schema(schema)
        validator = jsonschema.Draft202012Validator(schema)
        bad = 0
        for path in sys.argv[2:]:
            for error in validator.iter_errors(json.load(open(path))):
                bad += 1
                print(f"{path}: at {'/'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message[:300]}")
        sys.exit(1 if bad else 0)
        """

    /// The schema errors of `files` (empty when all validate).
    static func errors(_ files: [URL]) throws -> (status: Int32, output: String) {
        try Python.run(["-c", script, schema.path] + files.map(\.path))
    }
}

@Suite("result schema", .enabled(if: Unavailable.none(SchemaValidator.unavailable, for: "result schema"), SchemaValidator.needs))
struct SchemaTests {
    @Test func theReferenceBaselinesMatchTheSchema() throws {
        let directory = Fixtures.root.appendingPathComponent("Baselines/reference")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".json") }.map { directory.appendingPathComponent($0) }
        #expect(files.count >= 8)
        let outcome = try SchemaValidator.errors(files)
        #expect(outcome.status == 0, "\(outcome.output)")
    }

    @Test func documentsAndBaselinesKvmbenchWritesMatchTheSchema() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var noisy = Fixtures.timeCase(vcpus: 2, samples: [1, 2, 3, .nan])
        noisy.summarise(maxCV: 0.3)
        var unsupported = CaseResult(scenario: "page-table", parameters: ["backing": "hugetlb-1g"], status: .unsupported,
                                     reason: "no 1G guest pages", perVCPU: [["t": .infinity]])
        unsupported.phaseStats = ["create": ["pages_4k": 3]]
        noisy.kvmStatTypes = ["pages_4k": "instant", "max_mmu_rmap_size": "peak", "halt_wait_hist": "log-hist"]
        noisy.kvmStatsInstant = ["pages_4k": InstantStat(before: 10, after: 4106)]
        noisy.kvmStatsHistograms = ["halt_wait_hist": [0, 3, 1]]
        let document = Fixtures.document([Fixtures.timeCase(vcpus: 1), noisy, unsupported],
                                          suite: SuiteRecord(name: "x", definition: "cases: []\n"))
        let result = directory.appendingPathComponent("result.json")
        try document.encoded().write(to: result)
        let store = BaselineStore(directory: directory.appendingPathComponent("Baselines"))
        // Forced (the noisy case), so that every header field is written and checked.
        let baseline = try store.save(document, as: "main", source: result.path, acceptance: BaselineAcceptance(
            reason: "schema test", kernelCommit: "abc123", tool: ToolInfo(version: "0.1.0", gitCommit: nil), acceptedBy: "ci", force: true))
        let outcome = try SchemaValidator.errors([result, baseline])
        #expect(outcome.status == 0, "\(outcome.output)")
    }

    @Test func aCaseCutShortMatchesTheSchemaAndReadsBack() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var partial = Fixtures.timeCase(vcpus: 1, samples: [1, 2])
        partial.interrupted = CaseInterruption(repetitionsCompleted: 2, repetitionsPlanned: 20)
        let document = Fixtures.document([Fixtures.timeCase(vcpus: 2), partial])
        let url = directory.appendingPathComponent("killed.json")
        try document.encoded().write(to: url)
        let outcome = try SchemaValidator.errors([url])
        #expect(outcome.status == 0, "\(outcome.output)")
        let loaded = try DocumentLoader.load(url)
        #expect(loaded.document.cases.last?.interrupted == CaseInterruption(repetitionsCompleted: 2, repetitionsPlanned: 20))
        #expect(loaded.document.cases.first?.interrupted == nil)
        #expect(try String(contentsOf: url, encoding: .utf8).contains("\"repetitions_completed\" : 2"))
    }

    @Test func theSchemaRejectsWhatIsNotAResultDocument() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = try Fixtures.document([Fixtures.timeCase(vcpus: 1)]).encoded()
        var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        var cases = try #require(object["cases"] as? [[String: Any]])
        cases[0]["status"] = "crashed"
        object["cases"] = cases
        object["schema_version"] = 2
        let url = directory.appendingPathComponent("bad.json")
        try JSONSerialization.data(withJSONObject: object).write(to: url)
        let outcome = try SchemaValidator.errors([url])
        #expect(outcome.status != 0)
        #expect(outcome.output.contains("at cases/0/status"), "\(outcome.output)")
        #expect(outcome.output.contains("at schema_version"), "\(outcome.output)")
    }
}
