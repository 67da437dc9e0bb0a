import Testing
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import Reporting
import Results

/// A fleet page of two hosts whose medians are the stepped trend series' (invented, as that series
/// is), alternating runs, the second half on the candidate kernel.
enum FleetFixture {
    static let candidateKernel = "6.18.2"

    static func trend() -> FleetHTML.Trend {
        let series = TrendChartTests.steppedSeries()
        let hosts = ["lab-a1", "lab-a2"].enumerated().map { hostIndex, host in
            FleetHTML.Trend.Series(label: host, points: series.points.enumerated().filter { $0.offset % 2 == hostIndex }.map { index, point in
                FleetHTML.Trend.Point(x: Double(index), median: point.median, low: point.low, high: point.high,
                                      kernel: point.kernelRelease, label: "run \(point.runID), \(point.startedAt)")
            })
        }
        return FleetHTML.Trend(caseKey: series.caseKey, metric: series.metric, unit: series.unit, better: series.better,
                               candidateKernel: candidateKernel, series: hosts)
    }

    static func page() -> FleetHTML.Page {
        FleetHTML.Page(title: "kvmbench fleet: kernel \(candidateKernel)", subtitle: "1 host class", sections: [
            FleetHTML.Section(title: "Class a", subtitle: "2 hosts", header: ["case", "metric"],
                              rows: [FleetHTML.Row(cells: ["demand-paging[vcpus=2]", "first_touch_time"], regressed: true)],
                              trends: [trend()]),
        ])
    }
}

@Suite("One page builder")
struct HTMLPageTests {
    /// Every page kvmbench writes, with its title.
    static func pages() -> [(name: String, title: String, html: String)] {
        [
            ("comparison", "kvmbench report", HTMLReport.render(documents: [Fixtures.documentA(), Fixtures.documentB()],
                                                                 comparison: Fixtures.comparison(), title: "kvmbench report")),
            ("results", "one run", HTMLReport.render(documents: [Fixtures.documentA()], comparison: nil, title: "one run")),
            ("trend", "kvmbench history: first_touch_time",
             TrendReport.render([TrendChartTests.steppedSeries()], title: "kvmbench history: first_touch_time")),
            ("fleet", FleetFixture.page().title, FleetHTML.render(FleetFixture.page())),
        ]
    }

    @Test func everyPageStartsWithTheBuildersHeadAndHasOnlyThatOne() throws {
        for page in Self.pages() {
            #expect(page.html.hasPrefix(HTMLPage.opening(title: page.title)), "the \(page.name) page has a head of its own")
            #expect(page.html.components(separatedBy: "<head>").count == 2, "the \(page.name) page has more than one head")
            #expect(page.html.components(separatedBy: "name=\"viewport\"").count == 2)
            #expect(page.html.hasSuffix("</footer></main></body></html>\n"), "the \(page.name) page ends without the builder's footer")
            _ = try parseXML(page.html)
        }
    }

    /// The scaffold is written in one file: no other page of the module spells out its head.
    @Test func theHeadIsWrittenOnlyByTheBuilder() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/Reporting")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".swift") }
        #expect(files.count > 10)
        let writers = try files.filter { name in
            let source = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
            return source.contains("\"viewport\"") || source.contains("HTMLStyle.sheet") || source.contains("<!DOCTYPE")
        }
        #expect(writers == ["HTMLPage.swift"])
    }
}

@Suite("One chart axis, one trend chart")
struct ChartAxisTests {
    @Test func aTimeAxisHasRoundTicksInOneUnit() {
        // 52.3 ms with 5% headroom: 54.9 ms, about five intervals of 11 ms, rounded to 20 ms steps.
        let axis = ChartAxis(largest: 0.0523, headroom: 1.05, unit: .seconds, pixels: (268, 100))
        #expect(axis.ticks.values.map { ($0 * 1000).rounded() } == [0, 20, 40, 60])
        #expect(axis.labels == ["0", "20", "40", "60"])
        #expect(axis.title("first_touch_time") == "first_touch_time (ms)")
        #expect(abs(axis.position(0.03) - 184) < 1e-9)
        #expect(axis.position(0) == 268)
    }

    @Test func aRateAxisStepsInQuartersOfAMillion() {
        let axis = ChartAxis(values: [900_000, 1_234_567, .infinity], unit: .pagesPerSecond, pixels: (0, 100))
        #expect(axis.ticks.values == [0, 250_000, 500_000, 750_000, 1_000_000, 1_250_000])
        #expect(axis.labels == ["0.00", "0.25", "0.50", "0.75", "1.00", "1.25"])
        #expect(axis.title("demand_paging_rate") == "demand_paging_rate (M pages/s)")
    }

    @Test func countsHaveNoUnitAndNothingToDrawEndsAtOne() {
        let axis = ChartAxis(values: [], unit: .count, pixels: (0, 10))
        #expect(axis.ticks.top == 1)
        #expect(axis.title("dirty_pages") == "dirty_pages")
    }

    /// The y tick labels and axis title of the first chart of `html`.
    static func yAxis(_ html: String, kind: String) throws -> (ticks: [String], title: String?) {
        let xml = try parseXML(html)
        let chart = try #require(try xml.nodes(forXPath: "//*[local-name()='svg'][@data-chart='\(kind)']").first)
        let ticks = try chart.nodes(forXPath: ".//*[local-name()='text'][@class='tick'][@text-anchor='end']").compactMap(\.stringValue)
        let title = try chart.nodes(forXPath: ".//*[local-name()='text'][@class='axis-label'][@transform]").first?.stringValue
        return (ticks, title)
    }

    @Test func theFleetAndTheHistoryTrendAreOneChart() throws {
        let history = try Self.yAxis(TrendReport.render([TrendChartTests.steppedSeries()], title: "t"), kind: "trend")
        let fleetHTML = FleetHTML.render(FleetFixture.page())
        let fleet = try Self.yAxis(fleetHTML, kind: "trend")
        // Same medians and intervals, same axis: 51.5 ms at most, 5% headroom, ticks of 20 ms.
        #expect(history.ticks == ["0", "20", "40", "60"])
        #expect(fleet.ticks == history.ticks)
        #expect(fleet.title == "first_touch_time (ms)" && history.title == fleet.title)

        let xml = try parseXML(fleetHTML)
        let chart = try #require(try xml.nodes(forXPath: "//*[local-name()='svg'][@data-chart='trend']").first)
        #expect(chart.attribute("viewBox") == "0 0 \(svgNumber(TrendChart.width)) \(svgNumber(TrendChart.height))")
        let lines = try chart.nodes(forXPath: ".//*[local-name()='g'][@class='series']")
        #expect(lines.map { $0.attribute("data-host") } == ["lab-a1", "lab-a2"])
        // The candidate kernel's runs (the second half) are filled, the others hollow.
        let candidates = try chart.nodes(forXPath: ".//*[local-name()='circle'][@class='candidate']")
        let others = try chart.nodes(forXPath: ".//*[local-name()='circle'][@class='run']")
        #expect(candidates.count == 12 && others.count == 12)
        #expect(candidates.allSatisfy { $0.attribute("fill") != "#ffffff" } && others.allSatisfy { $0.attribute("fill") == "#ffffff" })
        // Runs are placed on one x scale: run 13 (lab-a1) right of run 12 (lab-a2).
        let cx = { (node: XMLNode) in node.attribute("cx").flatMap(Double.init) ?? .nan }
        let lastBefore = try #require(try chart.nodes(forXPath: ".//*[local-name()='g'][@data-host='lab-a2']/*[local-name()='circle'][@class='run']").last)
        let firstAfter = try #require(candidates.first)
        #expect(cx(lastBefore) < cx(firstAfter))
    }

    @Test func theScalingChartUsesTheSameAxis() throws {
        let plot = try #require(ScalingPlot.plots(scenario: "demand-paging", cases: Fixtures.documentA().cases).first)
        let html = HTMLReport.render(documents: [Fixtures.documentA()], comparison: nil, title: "t")
        let drawn = try Self.yAxis(html, kind: "scaling")
        let axis = ChartAxis(values: plot.series.flatMap(\.points).map(\.range.max), headroom: 1.25, unit: plot.unit, pixels: (0, 1))
        #expect(drawn.ticks == axis.labels)
        #expect(drawn.title == axis.title(plot.metric))
    }
}
