import Testing
import Results
@testable import Reporting

@Suite("Text tables and terminal reports")
struct TextReportTests {
    @Test func columnsAlignAndNumbersAreRightAligned() {
        var table = TextTable(columns: [.init("Metric"), .init("Median", .right), .init("n", .right)])
        table.append(["first_touch_time", "123.0 µs", "5"])
        table.append(["rate", "1.23 M pages/s", "10"])
        let lines = table.render(colour: false).split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines[1] == "----------------  --------------  --")
        // Right-aligned last column: every line ends at the same column.
        #expect(Set(lines.map(\.count)).count == 1)
        #expect(lines[2] == "first_touch_time        123.0 µs   5")
        #expect(lines[3] == "rate              1.23 M pages/s  10")
    }

    @Test func colourOnlyWhenAsked() {
        var table = TextTable(columns: [.init("Verdict")])
        table.append([.init("regressed", style: .red)])
        #expect(!table.render(colour: false).contains("\u{1B}"))
        #expect(table.render(colour: true).contains("\u{1B}[31mregressed\u{1B}[0m"))
    }

    @Test func terminalControlCharactersAreNeutralised() {
        var table = TextTable(columns: [.init("Reason")])
        table.append([.init("bad\u{1B}[2Jthing\nnext")])
        let text = table.render(colour: false)
        #expect(!text.contains("\u{1B}"))
        #expect(text.contains("bad\u{FFFD}[2Jthing next"))
    }

    @Test func resultTextShowsEveryCase() {
        let text = renderResultText(Fixtures.documentA(), colour: false)
        #expect(text.contains("host kvm-host-a"))
        #expect(text.contains("took 12 min 34 s"))
        #expect(text.contains("16 cases: 14 ok, 1 unsupported, 1 failed"))
        #expect(text.contains("demand-paging [vcpus=4 mem_per_vcpu=512M backing=anonymous]"))
        #expect(text.contains("demand_paging_rate"))
        #expect(text.contains("KVM stat"))
        #expect(text.contains("(1 KVM stats unchanged)"))
        #expect(text.contains("unsupported: no 1G hugepages"))
        #expect(text.contains("note: slots capped at 32763"))
        #expect(!text.contains("\u{1B}"))
    }

    @Test func comparisonTextPutsTheSummaryFirstAndEndsWithTheTally() throws {
        let text = renderComparisonText(Fixtures.comparison(), colour: false)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let counts = try #require(lines.firstIndex { $0.hasPrefix("7 gated metrics:") })
        #expect(lines[counts].hasSuffix("2 regressed, 1 improved, 1 noisy, 1 not significant, 2 unchanged"))
        #expect(lines[counts + 1] == "1 informational:  1 regressed")
        let changed = try #require(lines.firstIndex(of: "What changed"))
        let undecided = try #require(lines.firstIndex { $0.hasPrefix("Gated metrics the samples could not decide (2)") })
        let byCase = try #require(lines.firstIndex { $0.hasPrefix("By case: gated metrics") })
        #expect(counts < changed && changed < undecided && undecided < byCase)
        #expect(lines[changed + 1].hasPrefix("Case") && lines[changed + 1].contains("Ratio [95% CI]") && lines[changed + 1].hasSuffix("Verdict"))
        let verdicts = lines[(changed + 3)...].prefix { !$0.hasPrefix("+") && !$0.isEmpty }.map { line in
            Verdict.allCases.first { line.hasSuffix($0.label) }
        }
        // The gated regressions (worst first: first_touch_time +18.8% at vcpus=4), the improvement;
        // the ungated regression only counted.
        #expect(verdicts == [.regressed, .regressed, .improved])
        #expect(lines[changed + 3].contains("first_touch_time") && lines[changed + 3].contains("+18.8%"))
        #expect(lines[changed + 3].contains("1.19× [1.12, 1.24]") && lines[changed + 3].contains("±5%"))
        #expect(lines.contains("+ 1 informational metric changed too (1 regressed; not gated, --verbose lists them)"))
        #expect(text.contains("reference: published figures, other hardware"))
        #expect(text.contains("cpu_model: Intel(R) Xeon(R) Platinum 8167M → Intel(R) Xeon(R) Gold 6230"))
        #expect(lines.dropLast().last == "3 regressed, 1 improved, 2 unchanged, 1 not significant, 1 noisy, 1 unsupported, 1 failed")
        #expect(!text.contains("\u{1B}"))
    }

    @Test func summaryLineHasTheSeedShape() {
        var comparison = Fixtures.comparison()
        comparison.uncompared.removeAll { $0.kind == "failed" }
        var tally = ComparisonTally(comparison)
        (tally.regressed, tally.improved, tally.unchanged, tally.notSignificant, tally.noisy) = (2, 1, 10, 1, 0)
        #expect(tally.summaryLine == "2 regressed, 1 improved, 10 unchanged, 1 not significant, 0 noisy, 1 unsupported")
    }
}

/// `kvmbench compare` as the terminal prints it, for the two real nightly runs of this host.
@Suite("Comparison text of real nightly runs")
struct RealComparisonTextTests {
    /// The lines of `text` from the one equal to or starting with `heading` to the next blank line.
    static func section(_ lines: [String], from heading: String) throws -> ArraySlice<String> {
        let start = try #require(lines.firstIndex { $0.hasPrefix(heading) }, "no \(heading)")
        let end = lines[start...].firstIndex(of: "") ?? lines.endIndex
        return lines[start..<end]
    }

    @Test func theSummaryComesFirstAndInformationalMetricsAreCounted() throws {
        let (_, comparison) = try ComparisonPageTests.realComparison()
        let gated = comparison.metrics.filter(\.gate), informational = comparison.metrics.filter { !$0.gate }
        let decided = comparison.metrics.filter { $0.verdict == .regressed || $0.verdict == .improved }
        #expect(gated.count >= 50 && informational.count >= 100 && decided.contains { !$0.gate })
        let text = renderComparisonText(comparison, colour: false)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)

        let summary = try #require(lines.firstIndex { $0.hasPrefix("\(gated.count) gated metrics:") })
        let changes = try Self.section(lines, from: "What changed")
        let byCase = try Self.section(lines, from: "By case")
        #expect(summary < changes.startIndex && changes.startIndex < byCase.startIndex)

        // What changed: the gated changes, one row each; the informational ones one count.
        let changeRows = changes.dropFirst(3).filter { !$0.hasPrefix("+") }
        #expect(changeRows.count == decided.filter(\.gate).count)
        #expect(!changeRows.contains { $0.contains("not gated") })
        let informationalChanges = decided.filter { !$0.gate }.count
        #expect(changes.last?.hasPrefix("+ \(informationalChanges) informational metrics changed too") == true)

        // Per case: a heading, the gated metrics, one count line of the informational ones.
        let rows = byCase.dropFirst(3).filter { $0.hasPrefix("  ") && !$0.hasPrefix("  + ") && !$0.hasPrefix("  no gated") }
        #expect(rows.count == gated.count)
        let counted = byCase.compactMap { line -> Int? in
            guard line.hasPrefix("  + ") else { return nil }
            return Int(line.dropFirst(4).prefix { $0.isNumber })
        }
        #expect(counted.reduce(0, +) == informational.count)
        #expect(byCase.filter { !$0.hasPrefix("  ") }.count - 3 == Set(comparison.metrics.map(\.caseKey)).count)

        // Aligned: every row's verdict starts under the header's "Verdict", every Detectable ends under its title.
        let header = byCase[byCase.startIndex + 1]
        let verdictColumn = try #require(header.range(of: "Verdict")).lowerBound.utf16Offset(in: header)
        let detectableEnd = try #require(header.range(of: "Detectable")).upperBound.utf16Offset(in: header)
        for row in rows {
            let characters = Array(row.utf16)
            #expect(characters.count > verdictColumn && characters[verdictColumn - 1] == 32 && characters[verdictColumn] != 32, "\(row)")
            #expect(characters[detectableEnd - 1] != 32 && characters[detectableEnd] == 32, "\(row)")
        }
        // Units on every number: before and after carry their unit, changes a percent, ratios a ×.
        for metric in gated.prefix(20) {
            let row = try #require(rows.first { $0.hasPrefix("  " + metric.metric + " ") && $0.contains(UnitFormatting.format(metric.beforeMedian, unit: metric.unit)) })
            #expect(row.contains(UnitFormatting.change(metric.change)) && row.contains(metric.ratioText))
        }
    }

    @Test func verboseListsEveryMetric() throws {
        let (_, comparison) = try ComparisonPageTests.realComparison()
        let text = renderComparisonText(comparison, colour: false, listInformational: true)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let byCase = try Self.section(lines, from: "By case")
        let rows = byCase.dropFirst(3).filter { $0.hasPrefix("  ") && !$0.hasPrefix("  no gated") }
        #expect(rows.count == comparison.metrics.count)
        #expect(!byCase.contains { $0.hasPrefix("  + ") })
        let changes = try Self.section(lines, from: "What changed")
        let decided = comparison.metrics.filter { $0.verdict == .regressed || $0.verdict == .improved }
        #expect(changes.count - 3 == decided.count)
        #expect(changes.filter { $0.hasSuffix("(not gated)") }.count == decided.filter { !$0.gate }.count)
    }

    @Test func colourOnlyWhenAsked() throws {
        let (_, comparison) = try ComparisonPageTests.realComparison()
        #expect(!renderComparisonText(comparison, colour: false).contains("\u{1B}"))
        let coloured = renderComparisonText(comparison, colour: true)
        #expect(coloured.contains("\u{1B}[31mregressed\u{1B}[0m") && coloured.contains("\u{1B}[1mWhat changed\u{1B}[0m"))
    }
}
