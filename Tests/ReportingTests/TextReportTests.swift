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

    @Test func comparisonTextPutsRegressionsFirstAndEndsWithTheSummary() throws {
        let text = renderComparisonText(Fixtures.comparison(), colour: false)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let header = try #require(lines.firstIndex { $0.hasPrefix("Test") })
        #expect(lines[header].contains("Before") && lines[header].contains("Verdict"))
        let verdicts = lines[(header + 2)...].prefix { !$0.isEmpty }.map { line in
            Verdict.allCases.first { line.contains($0.label) }
        }
        #expect(verdicts == [.regressed, .regressed, .regressed, .improved, .noisy, .notSignificant, .unchanged, .unchanged])
        // Worst regression first: first_touch_time +18.8% at vcpus=4 before the rate's -15.9%.
        #expect(lines[header + 2].contains("first_touch_time") && lines[header + 2].contains("+18.8%"))
        #expect(text.contains("reference: published figures, other hardware"))
        #expect(text.contains("cpu_model: Intel(R) Xeon(R) Platinum 8167M → Intel(R) Xeon(R) Gold 6230"))
        #expect(lines.dropLast().last == "3 regressed, 1 improved, 2 unchanged, 1 not significant, 1 noisy, 1 unsupported, 1 failed")
    }

    @Test func summaryLineHasTheSeedShape() {
        var comparison = Fixtures.comparison()
        comparison.uncompared.removeAll { $0.kind == "failed" }
        var tally = ComparisonTally(comparison)
        (tally.regressed, tally.improved, tally.unchanged, tally.notSignificant, tally.noisy) = (2, 1, 10, 1, 0)
        #expect(tally.summaryLine == "2 regressed, 1 improved, 10 unchanged, 1 not significant, 0 noisy, 1 unsupported")
    }
}
