import Foundation
import Results

/// The fleet view (`kvmbench history fleet --html`) as one self-contained page: per host class a
/// section with the table of gated metrics (regressions highlighted) and a trend chart per plotted
/// metric, one line per host, the candidate kernel's runs drawn filled.
public enum FleetHTML {
    public struct Page: Sendable {
        public var title: String
        public var subtitle: String
        public var sections: [Section]
        public init(title: String, subtitle: String, sections: [Section]) {
            self.title = title; self.subtitle = subtitle; self.sections = sections
        }
    }

    public struct Section: Sendable {
        public var title: String
        public var subtitle: String
        public var header: [String]
        public var rows: [Row]
        public var trends: [Trend]
        public init(title: String, subtitle: String, header: [String], rows: [Row], trends: [Trend]) {
            self.title = title; self.subtitle = subtitle; self.header = header; self.rows = rows; self.trends = trends
        }
    }

    public struct Row: Sendable {
        public var cells: [String]
        public var regressed: Bool
        public init(cells: [String], regressed: Bool) { self.cells = cells; self.regressed = regressed }
    }

    /// One metric of one case over a class's runs.
    public struct Trend: Sendable {
        public var caseKey: String
        public var metric: String
        public var unit: MetricUnit
        public var better: Polarity
        public var candidateKernel: String
        public var series: [Series]

        public struct Series: Sendable {
            public var label: String
            public var points: [Point]
            public init(label: String, points: [Point]) { self.label = label; self.points = points }
        }

        public struct Point: Sendable {
            public var x: Double
            public var median: Double
            public var low: Double?
            public var high: Double?
            public var kernel: String
            public var label: String
            public init(x: Double, median: Double, low: Double?, high: Double?, kernel: String, label: String) {
                self.x = x; self.median = median; self.low = low; self.high = high; self.kernel = kernel; self.label = label
            }
        }

        public init(caseKey: String, metric: String, unit: MetricUnit, better: Polarity, candidateKernel: String, series: [Series]) {
            self.caseKey = caseKey; self.metric = metric; self.unit = unit; self.better = better
            self.candidateKernel = candidateKernel; self.series = series
        }
    }

    public static func render(_ page: Page) -> String {
        HTMLPage.document(title: page.title) {
            Markup.element("p", ["class": "muted"]) { page.subtitle }
        } body: {
            for section in page.sections { sectionMarkup(section) }
        }
    }

    static func sectionMarkup(_ section: Section) -> Markup {
        var table = HTMLTable(titles: section.header, className: "fleet")
        for row in section.rows {
            table.append(row.cells.map { HTMLTable.Cell($0) }, className: row.regressed ? "v-regressed" : nil)
        }
        return Markup.element("section", ["class": "fleet-class"]) {
            Markup.element("h2") { section.title }
            Markup.element("p", ["class": "muted"]) { section.subtitle }
            table.markup
            for trend in section.trends { TrendChart(trend: trend).markup }
        }
    }
}

extension TrendChart {
    /// The chart of one metric over a host class's runs, one line per host, the candidate kernel's
    /// runs filled: the fleet view. x is the run's position in the class's runs.
    init(trend: FleetHTML.Trend) {
        let lines = trend.series.map { series in
            Line(label: series.label, legend: series.label, points: series.points.map { point in
                let candidate = point.kernel == trend.candidateKernel
                return Point(x: point.x, median: point.median, low: point.low, high: point.high, filled: candidate,
                             className: candidate ? "candidate" : "run", runID: nil,
                             tooltip: "\(series.label), \(point.label), kernel \(point.kernel): "
                                 + "median \(UnitFormatting.format(point.median, unit: trend.unit))")
            })
        }
        let hosts = trend.series.count
        self.init(title: "\(trend.caseKey): \(trend.metric) by run",
                  subtitle: "\(hosts) host\(hosts == 1 ? "" : "s") · " + (trend.better == .higher ? "higher is better" : "lower is better"),
                  metric: trend.metric, unit: trend.unit, lines: lines,
                  extraLegend: [.init(label: "filled: kernel \(trend.candidateKernel)", colour: ChartPalette.neutral, style: .textOnly)],
                  xLabel: "run of the class (oldest left)")
    }
}
