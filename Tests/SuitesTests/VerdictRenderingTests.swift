import Testing
import TestSupport
import Foundation
import Pipeline
import Reporting
import Results
import Suites

/// One verdict model: the gate's verdict per case and metric is computed once and every output
/// renders it. One set of failing comparisons (a regressed metric, a missing case, a failed case, a
/// newly unsupported case, an undecided metric) goes to every renderer; none of them may be green.
@Suite("Every output renders the gate's verdict")
struct VerdictRenderingTests {
    static let tight = [1.00, 1.01, 0.99, 1.00, 1.02, 0.98, 1.01, 0.99]

    static func timed(_ vcpus: Int, _ samples: [Double]) -> CaseResult {
        CaseResult(scenario: "demand-paging", parameters: ["vcpus": "\(vcpus)"],
                   metrics: [Metric(name: "first_touch_time", unit: .seconds, better: .lower, samples: samples)])
    }

    /// Baseline and result: vcpus=1 regressed 2x, vcpus=2 missing, vcpus=4 failed, vcpus=8 newly
    /// unsupported, vcpus=16 with too few samples to decide.
    static func failingGate() throws -> GateOutcome {
        let baseline = Fixtures.document([timed(1, tight), timed(2, tight), timed(4, tight), timed(8, tight), timed(16, [1.0, 1.1])])
        let result = Fixtures.document([
            timed(1, tight.map { $0 * 2 }),
            CaseResult(scenario: "demand-paging", parameters: ["vcpus": "4"], status: .failed, reason: "vCPU 0: KVM_EXIT_SHUTDOWN"),
            CaseResult(scenario: "demand-paging", parameters: ["vcpus": "8"], status: .unsupported, reason: "no hugepages"),
            timed(16, [1.5, 1.0]),
        ])
        return try Gate.evaluate(baseline: Fixtures.loaded(baseline, label: "base.json"), result: Fixtures.loaded(result, label: "result.json"))
    }

    @Test func theModelNamesEveryFailure() throws {
        let outcome = try Self.failingGate()
        #expect(outcome.status == .caseFailed)
        let verdicts = Dictionary(uniqueKeysWithValues: outcome.report.comparison.judgements.map { ($0.parameters["vcpus"]!, $0.verdict) })
        #expect(verdicts == ["1": .regressed, "2": .missing, "4": .failed, "8": .newlyUnsupported, "16": .inconclusive])
        #expect(outcome.missing.count == 2, "\(outcome.missing)")
    }

    @Test func noRendererIsGreen() throws {
        let outcome = try Self.failingGate()
        let comparison = outcome.report.comparison

        // Terminal: every failing case is named.
        let text = renderComparisonText(comparison, colour: false) + Gate.regressionLines(outcome).joined(separator: "\n")
        for word in ["REGRESSION", "MISSING", "FAILED", "NEWLY UNSUPPORTED"] { #expect(text.contains(word), "\(word) in \(text)") }
        #expect(outcome.summaryLine.hasPrefix("gate: FAIL"))

        // JSON: the verdict of every uncompared case travels with it.
        let json = String(decoding: try ResultDocument.makeEncoder().encode(comparison), as: UTF8.self)
        for verdict in ["\"failed\"", "\"missing\"", "\"newly-unsupported\""] { #expect(json.contains("\"verdict\" : \(verdict)"), "\(verdict)") }

        // Markdown and HTML: the failing cases are marked as failing the gate.
        let markdown = MarkdownReport.render(comparison)
        for word in ["MISSING", "FAILED", "NEWLY UNSUPPORTED"] { #expect(markdown.contains(word), "\(word) in Markdown") }
        let html = HTMLReport.render(documents: [], comparison: comparison, title: "gate")
        for word in ["newly unsupported", "missing", "failed"] { #expect(html.contains(">\(word)<"), "\(word) badge in HTML") }

        // JUnit: a failure or error for each failing case, and no failing case passed.
        let junit = JUnitReport.render(comparison)
        #expect(junit.contains("type=\"regression\"") && junit.contains("type=\"missing\"")
                && junit.contains("type=\"newly-unsupported\"") && junit.contains("type=\"failed\""), "\(junit)")
        #expect(junit.contains("inconclusive"))

        // KTAP: not ok for each failing case, the undecided one skipped as inconclusive, none plainly ok.
        let ktap = KTAPReport.render(gate: comparison, summary: outcome.summaryLine)
        let top = ktap.split(separator: "\n").filter { $0.hasPrefix("ok ") || $0.hasPrefix("not ok ") }
        #expect(top.filter { $0.hasPrefix("not ok ") }.count == 4, "\(ktap)")
        #expect(top.filter { $0.hasPrefix("ok ") }.allSatisfy { $0.contains("# SKIP inconclusive") }, "\(ktap)")

        // KCIDB and LAVA: FAIL / fail for every failing case, nothing PASS / pass.
        let figures = FleetFigure.figures(of: comparison)
        let kcidb = try JSONSerialization.jsonObject(with: KCIDBExport.render(figures, host: comparison.after.host,
                                                                               tool: comparison.after.kvmbench, startedAt: Date())) as! [String: Any]
        let statuses = (kcidb["tests"] as! [[String: Any]]).map { $0["status"] as! String }
        #expect(statuses.filter { $0 == "FAIL" }.count == 4 && !statuses.contains("PASS"), "\(statuses)")
        let lava = LAVATestCases.invocations(figures).map(\.result)
        #expect(lava.filter { $0 == "fail" }.count == 4 && !lava.contains("pass") && lava.contains("unknown"), "\(lava)")
    }

    /// A result whose time metric claims "better": "higher" cannot turn a slowdown into an
    /// improvement: the document is refused with one line (exit 4).
    @Test func aDocumentThatContradictsTheDeclarationsIsRefused() throws {
        var slower = Self.timed(1, Self.tight.map { $0 * 2 })
        slower.metrics[0].better = .higher
        let baseline = Fixtures.document([Self.timed(1, Self.tight)])
        #expect(throws: SuiteError.self) {
            try Gate.evaluate(baseline: Fixtures.loaded(baseline, label: "base.json"),
                              result: Fixtures.loaded(Fixtures.document([slower]), label: "doctored.json"))
        }
        do {
            _ = try Gate.evaluate(baseline: Fixtures.loaded(baseline, label: "base.json"),
                                  result: Fixtures.loaded(Fixtures.document([slower]), label: "doctored.json"))
        } catch {
            #expect(error.kind == .baseline)
            #expect(!error.message.contains("\n") && error.message.contains("doctored.json: metric first_touch_time"), "\(error.message)")
        }
        // A document's gate flag does not take a declared gated metric out of the gate.
        var ungated = Self.timed(1, Self.tight.map { $0 * 2 })
        ungated.metrics[0].gate = false
        let outcome = try Gate.evaluate(baseline: Fixtures.loaded(baseline, label: "base.json"),
                                        result: Fixtures.loaded(Fixtures.document([ungated]), label: "r.json"))
        #expect(outcome.status == .regression)
    }

    /// Every committed document (the first nightly baseline as written, the sample runs, the reference baselines)
    /// agrees with the metric declarations, so compare, gate and report accept them.
    @Test func theCommittedDocumentsMatchTheDeclarations() throws {
        let root = Fixtures.root
        var paths = ["Tests/Fixtures/old-documents/nightly-baseline-2026-11-24.json", "Reports/sample/nightly.json", "Reports/sample/nightly-2026-12-01.json"]
        let references = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("Baselines/reference").path)
        paths += references.filter { $0.hasSuffix(".json") }.map { "Baselines/reference/" + $0 }
        for path in paths {
            let loaded = try DocumentLoader.load(root.appendingPathComponent(path), label: path)
            #expect(MetricDeclarationLookup.kvmbench.conflicts(in: loaded.document) == [], "\(path)")
        }
    }
}
