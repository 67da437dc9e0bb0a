import Foundation
import Reporting
import Results
import Testing
import TestSupport

@Suite("KTAP output (--ktap)")
struct KTAPReportTests {
    @Test func aRunIsOneTestPointPerCaseWithItsFigures() throws {
        let document = Fixtures.documentA()
        let text = KTAPReport.render(document)
        #expect(text.hasPrefix("KTAP version 1\n1..\(document.cases.count)\n"))
        let (tests, _) = try KTAPParser.parse(text)
        #expect(tests.count == document.cases.count)
        for (test, item) in zip(tests, document.cases) {
            #expect(test.subtests.isEmpty)
            switch item.status {
            case .ok:
                #expect(test.ok && test.skip == nil, "\(test.name)")
                #expect(test.diagnostics.count >= item.metrics.count)
            case .unsupported:
                #expect(test.ok && test.skip == item.reason, "\(test.name)")
            case .failed:
                #expect(!test.ok && test.skip == nil)
                #expect(test.diagnostics.contains("failed: \(item.reason ?? "")"))
            }
        }
        let first = try #require(tests.first)
        #expect(first.name == "demand-paging [vcpus=1 mem_per_vcpu=512M backing=anonymous]")
        #expect(first.diagnostics.contains { $0.hasPrefix("first_touch_time: ") && $0.contains("(median of 5, min ") })
    }

    @Test func theGateMakesEveryGatedMetricASubtest() throws {
        let comparison = Fixtures.comparison()
        let text = KTAPReport.render(gate: comparison, summary: "gate: FAIL: 2 significant regressions")
        let (tests, trailer) = try KTAPParser.parse(text)
        #expect(trailer == ["gate: FAIL: 2 significant regressions"])
        let dp4 = try #require(tests.first { $0.name.hasPrefix("demand-paging [vcpus=4") })
        #expect(!dp4.ok)
        #expect(dp4.subtests.map(\.name) == ["demand_paging_rate", "first_touch_time"])
        #expect(dp4.subtests.allSatisfy { !$0.ok })
        #expect(dp4.subtests[1].diagnostics.first?.hasPrefix("first_touch_time: before 160.0 ms, after 190.0 ms, change +18.8%, p 0.008") == true)
        // A noisy or not significant gated metric is inconclusive: skipped, and so is its case,
        // never a plain ok.
        let pageTable = try #require(tests.first { $0.name.hasPrefix("page-table") })
        #expect(pageTable.ok && pageTable.skip?.hasPrefix("inconclusive: ") == true)
        #expect(pageTable.subtests.count == 3)
        #expect(pageTable.subtests[2].skip?.hasPrefix("inconclusive: noisy: ") == true)
        // A regression of a metric that does not gate is a figure, not a failure.
        let dp1 = try #require(tests.first { $0.name.hasPrefix("demand-paging [vcpus=1") })
        #expect(dp1.ok && dp1.subtests.map(\.name) == ["demand_paging_rate"])
        #expect(dp1.diagnostics.contains { $0.hasPrefix("first_touch_time (not gated): ") })
        #expect(tests.contains { $0.name.hasPrefix("zap-all") && !$0.ok && $0.skip == nil })
        #expect(tests.contains { $0.skip == "unsupported: no 1G hugepages in the pool" })
        // A case missing or newly unsupported in the result fails.
        var failingComparison = Fixtures.comparison()
        failingComparison.uncompared[0].verdict = CaseVerdict.newlyUnsupported
        failingComparison.uncompared.append(UncomparedCase(caseKey: "memslots[slots=1]", scenario: "memslots", parameters: ["slots": "1"],
                                                    kind: "only-before", reason: "not in after", verdict: .missing))
        let failing = try KTAPParser.parse(KTAPReport.render(gate: failingComparison, summary: "gate: FAIL"))
        #expect(failing.tests.filter { $0.name.hasPrefix("memslots [slots=1") || $0.name.contains("hugetlb-1G") }.allSatisfy { !$0.ok && $0.skip == nil })
    }

    @Test func hostileTextCannotBreakTheFormat() throws {
        var document = Fixtures.hostileDocument()
        document.cases[0].notes.append("line one\nok 99 fake # SKIP injected\n  KTAP version 1")
        document.cases[2].reason = "crash\n# SKIP\nnot ok 1 x"
        document.cases[1].parameters["slots"] = "#1 \n ok 7"
        let (tests, _) = try KTAPParser.parse(KTAPReport.render(document))
        #expect(tests.count == 3)
        #expect(tests.map(\.ok) == [true, true, false])
        #expect(!tests[1].name.contains("#"))
        let gate = KTAPReport.render(gate: Fixtures.hostileComparison(), summary: "summary\nnot ok 5")
        let parsed = try KTAPParser.parse(gate)
        #expect(parsed.trailer == ["summary", "not ok 5"])
    }

    @Test func theStrictParserRejectsWhatTheSpecForbids() {
        let bad = [
            "1..1\nok 1 a\n",                                        // no version line
            "KTAP version 1\n1..2\nok 1 a\n",                          // plan not met
            "KTAP version 1\n1..1\nok 2 a\n",                          // wrong number
            "KTAP version 1\n1..1\nok 1 a # TODO later\n",             // directive kvmbench never uses
            "KTAP version 1\n1..1\n  KTAP version 1\n  1..1\n  not ok 1 x\nok 1 parent\n", // parent passes a failure
            "KTAP version 1\n1..1\nrandom text\nok 1 a\n",             // unknown line
            "KTAP version 1\n1..1\nok 1 a \n",                         // trailing space
            "KTAP version 1\n1..1\n   ok 1 a\n",                       // bad indentation
        ]
        for text in bad {
            #expect(throws: KTAPParser.Failure.self, "\(text)") { try KTAPParser.parse(text) }
        }
        let good = "KTAP version 1\n1..2\n  KTAP version 1\n  1..1\n  ok 1 x\n# about the parent\nok 1 parent\nok 2 b # SKIP why\n"
        #expect(throws: Never.self) { try KTAPParser.parse(good) }
    }

    /// The kernel's own KTAP parser (tools/testing/kunit/kunit.py parse) from the Linux 6.12 tree
    /// scripts/build-selftests unpacks (scripts/test runs it), or $KVMBENCH_KUNIT_PY.
    @Test func theKernelsKUnitParserAcceptsTheOutput() throws {
        let kunit = BuiltKernelTree.kunitPy
        guard FileManager.default.fileExists(atPath: kunit) else {
            try Test.cancel("\(kunit) is not there (scripts/build-selftests unpacks the kernel tree; KVMBENCH_KUNIT_PY names another kunit.py): skipped")
        }
        var document = Fixtures.documentA()
        document.cases.removeAll { $0.status == .failed }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvmbench-ktap-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("run.ktap")
        try Data(KTAPReport.render(document).utf8).write(to: file)
        let (status, output) = try Python.run([kunit, "parse", file.path])
        #expect(status == 0, "\(output)")
        #expect(!output.contains("[ERROR]"), "\(output)")
        let skipped = document.cases.filter { $0.status == .unsupported }.count
        #expect(output.contains("Ran \(document.cases.count) tests: passed: \(document.cases.count - skipped), skipped: \(skipped)"), "\(output)")
    }
}
