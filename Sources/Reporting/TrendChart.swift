import Foundation
import Statistics
import Results

/// One metric of one case on one host, run after run, with the change points found in its medians
/// (`ChangePointDetection`, E-divisive means as Apache Otava does it).
public struct TrendSeries: Sendable, Equatable {
    public struct Point: Sendable, Equatable {
        public var runID: Int64
        public var startedAt: String
        public var kernelRelease: String
        public var median: Double
        /// The run's interval of the median (bootstrap), when it recorded one.
        public var low: Double?
        public var high: Double?
        public var accepted: Bool

        public init(runID: Int64, startedAt: String, kernelRelease: String, median: Double,
                    low: Double?, high: Double?, accepted: Bool) {
            self.runID = runID
            self.startedAt = startedAt
            self.kernelRelease = kernelRelease
            self.median = median
            self.low = low
            self.high = high
            self.accepted = accepted
        }
    }

    public var host: String
    public var caseKey: String
    public var metric: String
    public var unit: MetricUnit
    public var better: Polarity
    public var gate: Bool
    /// Oldest first.
    public var points: [Point]
    /// Indices into `points`: each is the first run of a new level.
    public var changePoints: [ChangePoint]

    public init(host: String, caseKey: String, metric: String, unit: MetricUnit, better: Polarity, gate: Bool,
                points: [Point], changePoints: [ChangePoint]) {
        self.host = host
        self.caseKey = caseKey
        self.metric = metric
        self.unit = unit
        self.better = better
        self.gate = gate
        self.points = points
        self.changePoints = changePoints
    }

    /// The series with its change points found by E-divisive means over the medians.
    public init(host: String, caseKey: String, metric: String, unit: MetricUnit, better: Polarity, gate: Bool,
                points: [Point], windowLength: Int = ChangePointDetection.defaultWindowLength,
                maxPValue: Double = ChangePointDetection.defaultMaxPValue) {
        let changes = points.count >= 2
            ? ChangePointDetection.changePoints(in: points.map(\.median), windowLength: windowLength, maxPValue: maxPValue)
            : []
        self.init(host: host, caseKey: caseKey, metric: metric, unit: unit, better: better, gate: gate,
                  points: points, changePoints: changes)
    }

    /// True when the change at `change` went the bad way for the metric's polarity.
    func isWorse(_ change: ChangePoint) -> Bool {
        better == .lower ? change.forwardChange > 0 : change.forwardChange < 0
    }
}

/// A trend as a line chart, the one `history show --html` and the fleet view both draw: per line
/// (a host) each run's median as a dot joined by a line and its interval as a whisker, dots filled
/// or hollow as the caller decides (an accepted run; a run on the candidate kernel). A single
/// series also gets the mean of each level between change points as a dashed step and every change
/// point as a vertical line labelled with its change and p-value (red when the metric got worse,
/// green when it got better). Runs are spaced evenly, oldest on the left.
struct TrendChart {
    struct Line: Sendable {
        /// The host (its `data-host`), and the legend's text for it.
        var label: String
        var legend: String
        var points: [Point]
    }

    struct Point: Sendable {
        /// The run's position: its index among the runs drawn.
        var x: Double
        var median: Double
        var low: Double?
        var high: Double?
        var filled: Bool
        /// The dot's class: "run", or "candidate" for a run on the candidate kernel.
        var className: String
        var runID: String?
        var tooltip: String
    }

    /// A change point of a single series: the first run of a new level.
    struct Change: Sendable {
        /// The index of that run (the marker goes halfway between it and the run before).
        var index: Int
        var worse: Bool
        /// "+25.0% · p 0.0001".
        var label: String
        var tooltip: String
        var runID: String?
        var forwardChange: Double
    }

    /// A level between change points: from the point at `start` to the one at `end - 1`.
    struct Level: Sendable {
        var start: Int
        var end: Int
        var mean: Double
    }

    var title: String
    var subtitle: String
    var metric: String
    var unit: MetricUnit
    var lines: [Line]
    /// Legend entries after those of the lines.
    var extraLegend: [ChartCanvas.LegendItem] = []
    var xLabel = "run (oldest left)"
    /// Candidate labels along the x axis (position, text); up to eight are drawn.
    var xTicks: [(x: Double, label: String)] = []
    var changes: [Change] = []
    var levels: [Level] = []

    static let width = 920.0
    static let height = 340.0

    /// The plot area and the axes the chart draws with.
    struct Layout {
        var area: PlotArea
        var x: AxisScale
        var y: ChartAxis

        init(_ chart: TrendChart, legendHeight: Double) {
            area = PlotArea(left: 76, top: 62 + legendHeight + 8, right: TrendChart.width - 24, bottom: TrendChart.height - 52)
            let xs = chart.lines.flatMap(\.points).map(\.x)
            let low = xs.min() ?? 0
            x = AxisScale(domain: (low, max(xs.max() ?? 1, low + 1)), pixels: (area.left + 10, area.right - 10))
            y = ChartAxis(values: chart.lines.flatMap(\.points).map { max($0.median, $0.high ?? $0.median) }, headroom: 1.05,
                          unit: chart.unit, pixels: (area.bottom, area.top))
        }

        /// Where a change point's line goes: halfway between the last run before and the first after.
        func changeX(_ index: Int) -> Double {
            x.position(Double(index) - 0.5)
        }
    }

    var markup: Markup {
        let legend = ChartCanvas.legend(lines.enumerated().map { index, line in
            ChartCanvas.LegendItem(label: line.legend, colour: ChartPalette.series(index), style: .line)
        } + extraLegend, x: 12, y: 60, width: Self.width - 24)
        let layout = Layout(self, legendHeight: legend.height)
        let area = layout.area
        return ChartCanvas.figure(kind: .trend, title: title, subtitle: subtitle, width: Self.width, height: Self.height) {
            legend.markup
            layout.y.vertical(area: area, name: metric)
            ChartCanvas.text(xLabel, x: (area.left + area.right) / 2, y: Self.height - 10, anchor: "middle", className: "axis-label")
            runTicks(layout)
            for level in levels { levelMarkup(level, layout: layout) }
            for change in changes { changeMarker(change, layout: layout) }
            for (index, line) in lines.enumerated() { lineMarkup(line, colour: ChartPalette.series(index), layout: layout) }
        }
    }

    /// Up to eight of `xTicks`, evenly picked.
    private func runTicks(_ layout: Layout) -> Markup {
        let ticks = xTicks.sorted { $0.x < $1.x }
        guard !ticks.isEmpty else { return .empty }
        let step = max(1, Int((Double(ticks.count) / 8).rounded(.up)))
        return .joined(stride(from: 0, to: ticks.count, by: step).map { index in
            ChartCanvas.text(ticks[index].label, x: layout.x.position(ticks[index].x), y: layout.area.bottom + 16,
                             anchor: "middle", className: "tick")
        })
    }

    /// A level's mean as a dashed horizontal step.
    private func levelMarkup(_ level: Level, layout: Layout) -> Markup {
        let y = layout.y.position(level.mean)
        return ChartCanvas.line(x1: layout.x.position(Double(level.start) - 0.4), y1: y,
                                x2: layout.x.position(Double(level.end - 1) + 0.4), y2: y,
                                stroke: ChartPalette.ink, width: 1.2, dashed: true, className: "level")
    }

    private func changeMarker(_ change: Change, layout: Layout) -> Markup {
        let x = layout.changeX(change.index)
        let colour = change.worse ? ChartPalette.regressed : ChartPalette.improved
        let anchor = x > layout.area.right - 160 ? "end" : "start"
        return Markup.element("g", [
            "class": "change-point", "data-index": String(change.index), "data-run": change.runID,
            "data-change": String(change.forwardChange),
        ]) {
            Markup.element("title") { change.tooltip }
            ChartCanvas.line(x1: x, y1: layout.area.top, x2: x, y2: layout.area.bottom, stroke: colour, width: 2,
                             className: "change-line")
            ChartCanvas.text(change.label, x: anchor == "end" ? x - 4 : x + 4, y: layout.area.top + 12, anchor: anchor,
                             className: "change-label")
        }
    }

    private func lineMarkup(_ line: Line, colour: String, layout: Layout) -> Markup {
        let coordinates = line.points.map { (layout.x.position($0.x), layout.y.position($0.median)) }
        let polyline = coordinates.map { "\(svgNumber($0.0)),\(svgNumber($0.1))" }.joined(separator: " ")
        return Markup.element("g", ["class": "series", "data-host": line.label]) {
            Markup.leaf("polyline", ["points": polyline, "fill": "none", "stroke": colour, "stroke-width": "1.75",
                                     "stroke-linejoin": "round", "class": "median-line"])
            for (point, (x, y)) in zip(line.points, coordinates) {
                if let low = point.low, let high = point.high, low.isFinite, high.isFinite {
                    ChartCanvas.line(x1: x, y1: layout.y.position(low), x2: x, y2: layout.y.position(high),
                                     stroke: colour, width: 1, className: "whisker")
                }
                Markup.element("circle", [
                    "cx": svgNumber(x), "cy": svgNumber(y), "r": "3.5", "fill": point.filled ? colour : "#ffffff",
                    "stroke": colour, "stroke-width": "1.5", "class": point.className, "data-run": point.runID,
                ]) {
                    Markup.element("title") { point.tooltip }
                }
            }
        }
    }
}

extension TrendChart {
    /// The chart of one host's series, with its change points and levels: `history show --html`.
    init(series: TrendSeries) {
        let direction = series.better == .higher ? "higher is better" : "lower is better"
        let changeCount = series.changePoints.count
        let points = series.points.enumerated().map { index, point in
            Point(x: Double(index), median: point.median, low: point.low, high: point.high, filled: point.accepted,
                  className: "run", runID: String(point.runID),
                  tooltip: "run \(point.runID), \(point.startedAt), kernel \(point.kernelRelease): "
                      + UnitFormatting.format(point.median, unit: series.unit) + (point.accepted ? "" : " (not accepted)"))
        }
        let bounds = [0] + series.changePoints.map(\.index) + [series.points.count]
        let levels = zip(bounds, bounds.dropFirst()).compactMap { start, end -> Level? in
            guard end > start else { return nil }
            let medians = series.points[start..<end].map(\.median)
            return Level(start: start, end: end, mean: medians.reduce(0, +) / Double(medians.count))
        }
        let changes = series.changePoints.map { change in
            let run = change.index < series.points.count ? series.points[change.index] : nil
            let label = UnitFormatting.change(change.forwardChange) + " · p " + UnitFormatting.pValue(change.pValue)
            return Change(index: change.index, worse: series.isWorse(change), label: label,
                          tooltip: "change point at run \(run.map { String($0.runID) } ?? "?") (\(run?.startedAt ?? "")): "
                              + "\(label), kernel \(run?.kernelRelease ?? "?")",
                          runID: run.map { String($0.runID) }, forwardChange: change.forwardChange)
        }
        self.init(
            title: "\(series.caseKey): \(series.metric)",
            subtitle: "\(series.points.count) runs on \(series.host) · \(direction) · "
                + (changeCount == 0 ? "no change point" : "\(changeCount) change point\(changeCount == 1 ? "" : "s")")
                + (series.gate ? " · gated" : ""),
            metric: series.metric, unit: series.unit,
            lines: [Line(label: series.host, legend: "median of a run (whisker: its interval)", points: points)],
            extraLegend: [
                .init(label: "mean of a level between change points", colour: ChartPalette.ink, style: .dashed),
                .init(label: "change point (red: worse, green: better)", colour: ChartPalette.regressed, style: .line),
            ],
            xTicks: series.points.enumerated().map { index, point in
                (x: Double(index), label: "#\(point.runID) " + String(point.startedAt.prefix(10)))
            },
            changes: changes, levels: levels)
    }
}
