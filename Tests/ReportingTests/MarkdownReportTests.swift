import Testing
@testable import Reporting

@Suite("Markdown")
struct MarkdownReportTests {
    @Test func theSummaryComesFirstThenEveryCaseFolded() throws {
        let markdown = MarkdownReport.render(Fixtures.comparison())
        #expect(markdown.hasPrefix("## kvmbench: ❌ 2 regressions"))
        #expect(markdown.contains("**7 gated metrics:** 2 regressed, 1 improved, 1 noisy, 1 not significant, 2 unchanged"))
        #expect(markdown.contains("**1 informational:** 1 regressed"))
        // What changed: the gated regressions, the improvement, then the ungated regression.
        let changed = try #require(markdown.range(of: "**What changed**"))
        let undecided = try #require(markdown.range(of: "**Gated metrics the samples could not decide**"))
        let everything = try #require(markdown.range(of: "<details><summary>Every compared metric, by case (8)</summary>"))
        #expect(changed.lowerBound < undecided.lowerBound && undecided.lowerBound < everything.lowerBound)
        let summary = String(markdown[changed.upperBound..<undecided.lowerBound])
        let verdicts = summary.split(separator: "\n").filter { $0.hasPrefix("| ") && !$0.hasPrefix("| Test") && !$0.hasPrefix("| ---") }
            .map { $0.split(separator: "|").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "" }
        #expect(verdicts == ["**regressed**", "**regressed**", "improved", "**regressed** (not gated)"])
        // The ungated regression is folded beneath the gated changes, with its count.
        let folded = try #require(summary.range(of: "<details><summary>1 informational metric changed too (1 regressed; not gated)</summary>"))
        #expect(!summary[..<folded.lowerBound].contains("(not gated)"))
        #expect(summary[folded.upperBound...].contains("(not gated)"))
        #expect(summary.contains("| 1.19× [1.12, 1.24] |"))
        #expect(markdown.contains("*reference: published figures, other hardware*"))
        #expect(markdown.contains("**Hosts differ:**"))
    }

    @Test func notComparedCasesAreListedWithReasons() {
        let markdown = MarkdownReport.render(Fixtures.comparison())
        #expect(markdown.contains("**unsupported**: no 1G hugepages in the pool"))
        #expect(markdown.contains("**FAILED** (fails the gate): failed: vCPU 1 exited with KVM\\_EXIT\\_SHUTDOWN"))
        #expect(markdown.hasSuffix("3 regressed, 1 improved, 2 unchanged, 1 not significant, 1 noisy, 1 unsupported, 1 failed\n"))
    }

    @Test func documentFormListsFailuresAndUnsupportedCases() {
        let markdown = MarkdownReport.render(Fixtures.documentA())
        #expect(markdown.hasPrefix("## kvmbench on kvm-host-a: ❌ 16 cases: 14 ok, 1 unsupported, 1 failed"))
        #expect(markdown.contains("| Case | Metric | Median | Min | Max | n |"))
        #expect(markdown.contains("demand\\_paging\\_rate"))
        let failed = markdown.range(of: "**failed**")
        let unsupported = markdown.range(of: "**unsupported**")
        #expect(failed != nil && unsupported != nil)
        if let failed, let unsupported { #expect(failed.lowerBound < unsupported.lowerBound) }
    }

    @Test func tableRowsKeepTheirShape() {
        let markdown = MarkdownReport.render(Fixtures.hostileComparison())
        // Every unescaped pipe is a cell border: each row of a table has as many as its header.
        func borders(_ row: Substring) -> Int {
            row.indices.filter { row[$0] == "|" && (($0 == row.startIndex) || row[row.index(before: $0)] != "\\") }.count
        }
        var header: Int?
        var rows = 0
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            guard line.hasPrefix("| ") || line.hasPrefix("| -") else { header = nil; continue }
            if let header { #expect(borders(line) == header, "\(line)"); rows += 1 } else { header = borders(line) }
        }
        #expect(rows >= 4)
    }
}
