import Testing
import Foundation
@testable import Reporting

@Suite("HTML report")
struct HTMLReportTests {
    static func fullReport() -> String {
        HTMLReport.render(documents: [Fixtures.documentA(), Fixtures.documentB()],
                          comparison: Fixtures.comparison(), title: "kvmbench report")
    }

    @Test func isOneSelfContainedWellFormedFile() throws {
        let html = Self.fullReport()
        #expect(html.hasPrefix("<!DOCTYPE html>\n<html lang=\"en\">"))
        #expect(!html.contains("<script"))
        #expect(!html.contains("<link"))
        #expect(!html.contains("@import"))
        #expect(!html.contains("url("))
        #expect(!html.contains("src="))
        #expect(html.contains("@media print"))
        _ = try parseXML(html)
    }

    @Test func twoHostsMakeTwoHostSections() throws {
        let xml = try parseXML(Self.fullReport())
        let hosts = try xml.nodes(forXPath: "//section[@class='host']")
        #expect(hosts.count == 2)
        let headings = try hosts.map { try $0.nodes(forXPath: ".//h2").first?.stringValue ?? "" }
        #expect(headings == ["Host kvm-host-a", "Host kvm-host-b"])
    }

    @Test func sameHostDocumentsShareASection() throws {
        let html = HTMLReport.render(documents: [Fixtures.documentA(), Fixtures.documentA()], comparison: nil, title: "t")
        let xml = try parseXML(html)
        #expect(try xml.nodes(forXPath: "//section[@class='host']").count == 1)
        #expect(try xml.nodes(forXPath: "//table[@class='runs']/tbody/tr").count == 2)
    }

    @Test func everyKindOfChartIsDrawnWithATitleAndAxisLabels() throws {
        let xml = try parseXML(Self.fullReport())
        let charts = try xml.elements(named: "svg")
        let kinds = charts.compactMap { $0.attribute("data-chart") }
        #expect(Set(kinds) == ["scaling", "forest", "phases"])
        for chart in charts {
            #expect(chart.attribute("class") == "chart")
            #expect(chart.children?.first?.name == "title")
            let labels = try chart.nodes(forXPath: ".//*[local-name()='text'][@class='axis-label']")
            #expect(!labels.isEmpty)
        }
        // demand-paging sweeps vCPUs in two backings; memslots sweeps slots; page-table sweeps vCPUs.
        let scaling = charts.filter { $0.attribute("data-chart") == "scaling" }
        let titles = scaling.compactMap { $0.children?.first?.stringValue }
        #expect(titles.contains("demand-paging: demand_paging_rate by vCPUs"))
        #expect(titles.contains("memslots: map.average by memslots"))
        // The rate-vs-vCPUs chart has ideal lines, one per series.
        let rateChart = try #require(scaling.first { $0.children?.first?.stringValue?.contains("demand_paging_rate") == true })
        #expect(try rateChart.nodes(forXPath: ".//*[local-name()='polyline'][@class='ideal']").count == 2)
        // Phases: page-table and dirty-logging.
        #expect(kinds.filter { $0 == "phases" }.count == 2)
    }

    @Test func summaryComparisonAndStatusesAreShown() throws {
        let html = Self.fullReport()
        #expect(html.contains("reference: published figures, other hardware"))
        #expect(html.contains("Interrupted run."))
        #expect(html.contains("12 min 34 s"))
        #expect(html.contains("no 1G hugepages in the pool (hugepages-1048576kB/nr_hugepages = 0)"))
        #expect(html.contains("vCPU 1 exited with KVM_EXIT_SHUTDOWN (triple fault) in pass 2"))
        #expect(html.contains("<details class=\"kvm-stats\">"))
        #expect(html.contains("3 regressed, 1 improved, 2 unchanged, 1 not significant, 1 noisy, 1 unsupported, 1 failed"))
        let xml = try parseXML(html)
        // "What changed" lists the gated regressions (worst first) and the improvement; the ungated
        // regression is folded beneath them with its count, marked as such.
        let changed = try xml.nodes(forXPath: "//table[@class='compare changes']/tbody/tr")
        #expect(changed.compactMap { $0.attribute("class") } == ["v-regressed", "v-regressed", "v-improved"])
        #expect(!changed.contains { $0.stringValue?.contains("not gated") == true })
        let foldedChanges = try xml.nodes(forXPath: "//details[contains(@class,'changes-informational')]")
        #expect(foldedChanges.count == 1)
        #expect(foldedChanges.first?.stringValue?.hasPrefix("1 informational metric changed too (not gated) 1 regressed") == true,
                "\(foldedChanges.first?.stringValue ?? "")")
        let foldedRows = try xml.nodes(forXPath: "//table[@class='compare changes informational']/tbody/tr")
        #expect(foldedRows.compactMap { $0.attribute("class") } == ["v-regressed"])
        #expect(foldedRows.first?.stringValue?.contains("not gated") == true)
        let ratios = try xml.nodes(forXPath: "//table[@class='compare changes']/tbody/tr/td[4]").map { $0.stringValue ?? "" }
        #expect(ratios.first == "1.19× [1.12, 1.24]")
        // Gated metrics the samples could not decide, with what they could have detected.
        let undecided = try xml.nodes(forXPath: "//table[@class='compare undecided']/tbody/tr").compactMap { $0.attribute("class") }
        #expect(undecided == ["v-noisy", "v-not-significant"])
        // Per case: the gated metrics in a table, the informational one folded.
        let folded = try xml.nodes(forXPath: "//details[@class='informational']//table[@class='compare case-metrics informational']/tbody/tr")
        #expect(folded.count == 1)
        #expect(try xml.nodes(forXPath: "//div[@class='case-block']").count == 4)
        // Host A's section leaves the metrics to the comparison; host B, not compared, keeps its tables.
        #expect(try xml.nodes(forXPath: "(//section[@class='host'])[1]//table[@class='results']").isEmpty)
        let hostBHeaders = try xml.nodes(forXPath: "(//section[@class='host'])[2]//table[@class='results']/thead/tr/th").map { $0.stringValue ?? "" }
        #expect(hostBHeaders.contains("Median") && !hostBHeaders.contains("Verdict"))
    }
}
