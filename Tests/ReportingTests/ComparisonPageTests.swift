import Testing
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import Reporting
import Results
import Statistics

/// The comparison page of two real nightly runs of this host (the committed baseline of 2026-11-24
/// against the sample run of 2026-12-01): its structure, its size, and a forest plot whose dots and
/// intervals sit where the comparison's ratios put them.
@Suite("Comparison page of real nightly runs")
struct ComparisonPageTests {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func load(_ path: String) throws -> ResultDocument {
        try ResultDocument.makeDecoder().decode(ResultDocument.self, from: Data(contentsOf: root.appendingPathComponent(path)))
    }

    /// Both nightly documents and their comparison with the nightly suite's default threshold (10%).
    static func realComparison() throws -> (documents: [ResultDocument], comparison: DocumentComparison) {
        let before = try load("Tests/Fixtures/old-documents/nightly-baseline-2026-11-24.json"), after = try load("Reports/sample/nightly-2026-12-01.json")
        let comparison = DocumentComparison.compare(before: before, beforeLabel: "nightly-baseline-2026-11-24.json",
                                                    after: after, afterLabel: "nightly-2026-12-01.json",
                                                    declarations: .recordedIn(before), options: ComparisonOptions(threshold: 0.10))
        return ([before, after], comparison)
    }

    /// The page of the two nightlies and the comparison it shows. Computed once for every test
    /// that reads it (here and in BrowserCheckTests): the comparison bootstraps some 250 metrics,
    /// about 20 s in a debug build. Comparison and page are deterministic (a fixed bootstrap seed),
    /// so each test sees exactly what computing them anew would give.
    static func realPage() throws -> (html: String, comparison: DocumentComparison) {
        try cachedRealPage.get()
    }

    private static let cachedRealPage = Result { () throws -> (html: String, comparison: DocumentComparison) in
        let (documents, comparison) = try realComparison()
        return (HTMLReport.render(documents: documents, comparison: comparison, title: "nightly vs nightly"), comparison)
    }

    @Test func thePageIsSmall() throws {
        let (html, comparison) = try Self.realPage()
        #expect(comparison.metrics.count >= 250, "the two nightlies share \(comparison.metrics.count) metrics")
        // `kvmbench compare` wrote 1,290,764 bytes for these two runs before the comparison was
        // regrouped (every metric's row twice, the full result tables and KVM stats of both runs)
        // and 334,769 after; with this test's single 10% threshold the page is about 389 kB.
        #expect(html.utf8.count < 420_000, "the comparison page is \(html.utf8.count) bytes")
    }

    /// docs/comparison-nightly.html (written by docs/make-sample) names its sides as the command was
    /// given them, relative to the repository, never by a machine's folder.
    @Test func theCommittedSampleNamesItsSidesByRepositoryPaths() throws {
        let html = try String(contentsOf: Self.root.appendingPathComponent("docs/comparison-nightly.html"), encoding: .utf8)
        let labels = try parseXML(html).nodes(forXPath: "//table[@class='sides']/tbody/tr/td[2]").compactMap(\.stringValue)
        #expect(labels == ["Tests/Fixtures/old-documents/nightly-baseline-2026-11-24.json", "Reports/sample/nightly-2026-12-01.json"])
        #expect(!html.contains(Self.root.path + "/") && !html.contains("/work/"))
    }

    @Test func everyComparedMetricIsOneRowWithItsVerdictLast() throws {
        let (html, comparison) = try Self.realPage()
        let xml = try parseXML(html)
        let rows = try xml.nodes(forXPath: "//table[contains(@class,'case-metrics')]/tbody/tr")
        #expect(rows.count == comparison.metrics.count)
        let labels = Dictionary(uniqueKeysWithValues: Verdict.allCases.map { ($0.cssClass, $0.label) })
        for row in rows {
            let cells = try row.nodes(forXPath: "./td")
            let verdictCells = try row.nodes(forXPath: "./td[@class='verdict']")
            #expect(verdictCells.count == 1)
            #expect(cells.last?.attribute("class") == "verdict")
            let rowClass = try #require(row.attribute("class"))
            #expect(verdictCells.first?.stringValue == labels[rowClass], "row \(rowClass): \(verdictCells.first?.stringValue ?? "")")
            #expect(verdictCells.first?.attribute("title")?.isEmpty == false, "the verdict's reason is its tooltip")
        }
        // Every table of the comparison ends with the verdict column.
        for table in try xml.nodes(forXPath: "//table[starts-with(@class,'compare')]") {
            #expect(try table.nodes(forXPath: "./thead/tr/th").last?.stringValue == "Verdict")
        }
    }

    @Test func gatedMetricsComeFirstAndInformationalOnesAreFolded() throws {
        let (html, comparison) = try Self.realPage()
        let xml = try parseXML(html)
        let gated = Set(comparison.metrics.filter(\.gate).map { $0.caseKey + "|" + $0.metric })
        let blocks = try xml.nodes(forXPath: "//div[@class='case-block']")
        #expect(blocks.count == Set(comparison.metrics.map(\.caseKey)).count)
        for block in blocks {
            let caseKey = try #require(block.attribute("data-case"))
            let open = try block.nodes(forXPath: "./table[contains(@class,'gated')]/tbody/tr/td[1]").map { caseKey + "|" + ($0.stringValue ?? "") }
            let folded = try block.nodes(forXPath: "./details[@class='informational']//tbody/tr/td[1]").map { caseKey + "|" + ($0.stringValue ?? "") }
            #expect(open.allSatisfy(gated.contains), "\(caseKey): an informational metric is shown unfolded")
            #expect(!folded.contains(where: gated.contains), "\(caseKey): a gated metric is folded")
        }
        // The summary lists exactly the gated regressions and improvements; the informational ones
        // are folded beneath them, with their count.
        let decided = comparison.metrics.filter { $0.verdict == .regressed || $0.verdict == .improved }
        let listed = try xml.nodes(forXPath: "//table[@class='compare changes']/tbody/tr")
        #expect(listed.count == decided.filter(\.gate).count)
        let foldedChanges = decided.filter { !$0.gate }.count
        #expect(foldedChanges > 0)
        let folded = try xml.nodes(forXPath: "//details[contains(@class,'changes-informational')]//table[@class='compare changes informational']/tbody/tr")
        #expect(folded.count == foldedChanges)
        let foldedSummary = try xml.nodes(forXPath: "//details[contains(@class,'changes-informational')]/summary").first?.stringValue ?? ""
        #expect(foldedSummary.hasPrefix("\(foldedChanges) informational metrics changed too"), "\(foldedSummary)")
        let undecided = comparison.metrics.filter { $0.gate && $0.verdict.isUndecided }
        #expect(try xml.nodes(forXPath: "//table[@class='compare undecided']/tbody/tr").count == undecided.count)
    }

    /// The mapping from ratio to x the chart's own tick labels state, fitted from two ticks.
    struct TickScale {
        let x1: Double, r1: Double, x2: Double, r2: Double
        func x(_ ratio: Double) -> Double { x1 + (log2(ratio) - log2(r1)) / (log2(r2) - log2(r1)) * (x2 - x1) }
    }

    static func tickScale(_ chart: XMLNode) throws -> TickScale {
        let ticks = try chart.nodes(forXPath: ".//*[local-name()='text'][@class='tick']").compactMap { node -> (Double, Double)? in
            guard let label = node.stringValue, label.hasSuffix("×"), let ratio = Double(label.dropLast()),
                  let x = node.attribute("x").flatMap(Double.init) else { return nil }
            return (ratio, x)
        }
        let first = try #require(ticks.first), last = try #require(ticks.last)
        #expect(ticks.count >= 2 && first.0 < last.0)
        return TickScale(x1: first.1, r1: first.0, x2: last.1, r2: last.0)
    }

    @Test func theForestPlotDrawsEveryGatedRatioWhereItIs() throws {
        let (html, comparison) = try Self.realPage()
        let xml = try parseXML(html)
        let chart = try #require(try xml.nodes(forXPath: "//*[local-name()='svg'][@data-chart='forest']").first)
        let scale = try Self.tickScale(chart)
        let byKey = Dictionary(comparison.metrics.map { ($0.caseKey + "|" + $0.metric, $0) }, uniquingKeysWith: { a, _ in a })
        let rows = try chart.nodes(forXPath: ".//*[local-name()='g'][starts-with(@class,'forest-row')]")
        let gated = comparison.metrics.filter { $0.gate && $0.ratio != nil }
        #expect(rows.count == gated.count)
        var drawnDots = 0
        for row in rows {
            let key = (row.attribute("data-case") ?? "") + "|" + (row.attribute("data-metric") ?? "")
            let metric = try #require(byKey[key], "a forest row for \(key), which the comparison does not have")
            let ratio = try #require(metric.ratio)
            #expect(row.attribute("class") == "forest-row " + metric.verdict.cssClass)
            if let dot = try row.nodes(forXPath: "./*[local-name()='circle']").first {
                let cx = try #require(dot.attribute("cx").flatMap(Double.init))
                #expect(abs(cx - scale.x(ratio)) < 0.2, "\(key): dot at \(cx), ratio \(ratio) belongs at \(scale.x(ratio))")
                drawnDots += 1
            }
            if let interval = metric.interval, interval.low >= scale.r1, interval.high <= scale.r2 {
                let line = try #require(try row.nodes(forXPath: "./*[local-name()='line'][@class='interval']").first)
                let x1 = try #require(line.attribute("x1").flatMap(Double.init)), x2 = try #require(line.attribute("x2").flatMap(Double.init))
                #expect(abs(x1 - scale.x(interval.low)) < 0.2, "\(key): interval starts at \(x1), not \(scale.x(interval.low))")
                #expect(abs(x2 - scale.x(interval.high)) < 0.2, "\(key): interval ends at \(x2), not \(scale.x(interval.high))")
            }
            let band = try #require(try row.nodes(forXPath: "./*[local-name()='rect'][@class='threshold-band']").first)
            let bandLeft = try #require(band.attribute("x").flatMap(Double.init))
            let bandWidth = try #require(band.attribute("width").flatMap(Double.init))
            #expect(abs(bandLeft + bandWidth - scale.x(1 + metric.threshold)) < 0.3, "\(key): band does not end at 1 + threshold")
        }
        #expect(drawnDots > gated.count / 2)
    }
}

/// The trend chart of a series with one step: the change point the detector finds is the one the
/// chart marks, between the runs either side of it.
@Suite("Trend charts")
struct TrendChartTests {
    /// 24 runs, a 25% step at run 12, every value wobbling by a fixed ±1%. Invented for the chart.
    static func steppedSeries() -> TrendSeries {
        let wobble = [1.0, 1.008, 0.993, 1.004, 0.99, 1.01, 0.997, 1.006]
        let points = (0..<24).map { index in
            let median = 0.040 * (index >= 12 ? 1.25 : 1) * wobble[index % wobble.count]
            return TrendSeries.Point(runID: Int64(index + 1), startedAt: "2026-11-\(String(format: "%02d", index + 1))T10:00:00Z",
                                     kernelRelease: index >= 12 ? "6.18.2" : "6.18.1", median: median,
                                     low: median * 0.98, high: median * 1.02, accepted: true)
        }
        return TrendSeries(host: "vm-1234", caseKey: "demand-paging[vcpus=2]", metric: "first_touch_time", unit: .seconds,
                           better: .lower, gate: true, points: points)
    }

    @Test func theChangePointFoundIsTheOneMarked() throws {
        let series = Self.steppedSeries()
        #expect(series.changePoints.map(\.index) == [12])
        let xml = try parseXML(TrendReport.render([series], title: "kvmbench history: first_touch_time"))
        let chart = try #require(try xml.nodes(forXPath: "//*[local-name()='svg'][@data-chart='trend']").first)
        let runs = try chart.nodes(forXPath: ".//*[local-name()='circle'][@class='run']")
        #expect(runs.map { $0.attribute("data-run") } == series.points.map { String($0.runID) })
        let marker = try #require(try chart.nodes(forXPath: ".//*[local-name()='g'][@class='change-point']").first)
        #expect(marker.attribute("data-run") == "13")
        let line = try #require(try marker.nodes(forXPath: "./*[local-name()='line']").first)
        let x = try #require(line.attribute("x1").flatMap(Double.init))
        let before = try #require(runs[11].attribute("cx").flatMap(Double.init)), after = try #require(runs[12].attribute("cx").flatMap(Double.init))
        #expect(before < x && x < after)
        // Worse (a time went up): red, and said in the table with its change.
        #expect(line.attribute("stroke") == ChartPalette.regressed)
        let rows = try xml.nodes(forXPath: "//table[@class='change-points']/tbody/tr")
        #expect(rows.count == 1)
        let text = rows.first?.stringValue ?? ""
        #expect(text.contains("+24.") || text.contains("+25."), "\(text)")
        // Two levels, each drawn at the mean of its runs.
        #expect(try chart.nodes(forXPath: ".//*[local-name()='line'][@class='level']").count == 2)
    }

    @Test func aFlatSeriesHasNoMarker() throws {
        var series = Self.steppedSeries()
        series = TrendSeries(host: series.host, caseKey: series.caseKey, metric: series.metric, unit: series.unit,
                             better: series.better, gate: series.gate, points: Array(series.points.prefix(12)))
        #expect(series.changePoints.isEmpty)
        let xml = try parseXML(TrendReport.render([series], title: "flat"))
        #expect(try xml.nodes(forXPath: "//*[local-name()='g'][@class='change-point']").isEmpty)
        #expect(try xml.nodes(forXPath: "//*[local-name()='circle'][@class='run']").count == 12)
    }
}
