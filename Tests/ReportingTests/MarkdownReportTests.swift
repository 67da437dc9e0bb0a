import Testing
@testable import Reporting

@Suite("Markdown")
struct MarkdownReportTests {
    @Test func regressionsComeFirst() throws {
        let markdown = MarkdownReport.render(Fixtures.comparison())
        #expect(markdown.hasPrefix("## kvmbench: ❌ 2 regressions"))
        let regression = try #require(markdown.range(of: "**regressed**"))
        let improvement = try #require(markdown.range(of: "| improved |"))
        let unchanged = try #require(markdown.range(of: "| unchanged |"))
        #expect(regression.lowerBound < improvement.lowerBound)
        #expect(improvement.lowerBound < unchanged.lowerBound)
        #expect(markdown.contains("<details><summary>2 unchanged</summary>"))
        #expect(markdown.contains("*reference: published figures, other hardware*"))
        #expect(markdown.contains("**Hosts differ:**"))
    }

    @Test func notComparedCasesAreListedWithReasons() {
        let markdown = MarkdownReport.render(Fixtures.comparison())
        #expect(markdown.contains("**unsupported**: no 1G hugepages in the pool"))
        #expect(markdown.contains("**failed**: vCPU 1 exited with KVM\\_EXIT\\_SHUTDOWN"))
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
        let rows = markdown.split(separator: "\n").filter { $0.hasPrefix("| ") && !$0.hasPrefix("| Test") }
        for row in rows {
            // Every unescaped pipe is a cell border: six cells means seven borders.
            let borders = row.indices.filter { row[$0] == "|" && (($0 == row.startIndex) || row[row.index(before: $0)] != "\\") }
            #expect(borders.count == 7)
        }
    }
}
