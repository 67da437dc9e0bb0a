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

/// A series as a line chart: each run's median as a dot joined by a line, its interval as a
/// whisker, the mean of each level between change points as a dashed step, and every change point
/// as a vertical line labelled with its change and p-value (red when the metric got worse, green
/// when it got better). Runs are spaced evenly, oldest on the left.
struct TrendChart {
    let series: TrendSeries

    static let width = 920.0
    static let height = 320.0

    /// The plot area and scales the chart draws with.
    struct Layout {
        var area: PlotArea
        var x: AxisScale
        var y: AxisScale
        var ticks: ValueTicks

        init(_ series: TrendSeries) {
            // Below a legend of up to two lines.
            area = PlotArea(left: 76, top: 100, right: TrendChart.width - 24, bottom: TrendChart.height - 52)
            let count = max(series.points.count, 1)
            x = AxisScale(domain: (0, Double(max(count - 1, 1))), pixels: (area.left + 10, area.right - 10))
            let top = series.points.map { max($0.median, $0.high ?? $0.median) }.filter(\.isFinite).max() ?? 1
            ticks = ValueTicks(upTo: top * 1.05)
            y = AxisScale(domain: (0, ticks.top), pixels: (area.bottom, area.top))
        }

        /// Where a change point's line goes: halfway between the last run before and the first after.
        func changeX(_ change: ChangePoint) -> Double {
            x.position(Double(change.index) - 0.5)
        }
    }

    var markup: Markup {
        let layout = Layout(series)
        let (area, x, y) = (layout.area, layout.x, layout.y)
        let display = DisplayScale(unit: series.unit, magnitude: layout.ticks.top)
        let direction = series.better == .higher ? "higher is better" : "lower is better"
        let changes = series.changePoints.count
        let subtitle = "\(series.points.count) runs on \(series.host) · \(direction) · "
            + (changes == 0 ? "no change point" : "\(changes) change point\(changes == 1 ? "" : "s")")
            + (series.gate ? " · gated" : "")
        let legend = ChartCanvas.legend([
            .init(label: "median of a run (whisker: its interval)", colour: ChartPalette.series(0), style: .line),
            .init(label: "mean of a level between change points", colour: ChartPalette.ink, style: .dashed),
            .init(label: "change point (red: worse, green: better)", colour: ChartPalette.regressed, style: .line),
        ], x: 12, y: 60, width: Self.width - 24)

        return ChartCanvas.figure(kind: .trend, title: "\(series.caseKey): \(series.metric)", subtitle: subtitle,
                                  width: Self.width, height: Self.height) {
            legend.markup
            ChartCanvas.valueAxisY(layout.ticks, labels: layout.ticks.labels(divisor: display.divisor), scale: y, area: area)
            ChartCanvas.line(x1: area.left, y1: area.bottom, x2: area.right, y2: area.bottom, stroke: ChartPalette.axis)
            ChartCanvas.text(display.symbol.isEmpty ? series.metric : "\(series.metric) (\(display.symbol))",
                             x: 16, y: (area.top + area.bottom) / 2, anchor: "middle", className: "axis-label", rotate: true)
            ChartCanvas.text("run (oldest left)", x: (area.left + area.right) / 2, y: Self.height - 10, anchor: "middle",
                             className: "axis-label")
            runTicks(x, area: area)
            levels(layout)
            for change in series.changePoints { changeMarker(change, layout: layout) }
            points(layout)
        }
    }

    /// Up to eight run labels along the x axis: run id and date.
    private func runTicks(_ x: AxisScale, area: PlotArea) -> Markup {
        let count = series.points.count
        guard count > 0 else { return .empty }
        let step = max(1, Int((Double(count) / 8).rounded(.up)))
        return .joined(stride(from: 0, to: count, by: step).map { index in
            let point = series.points[index]
            return ChartCanvas.text("#\(point.runID) " + point.startedAt.prefix(10), x: x.position(Double(index)),
                                    y: area.bottom + 16, anchor: "middle", className: "tick")
        })
    }

    /// The mean of the medians of each level, as a dashed horizontal step.
    private func levels(_ layout: Layout) -> Markup {
        let bounds = [0] + series.changePoints.map(\.index) + [series.points.count]
        return .joined(zip(bounds, bounds.dropFirst()).compactMap { start, end -> Markup? in
            guard end > start else { return nil }
            let medians = series.points[start..<end].map(\.median)
            let mean = medians.reduce(0, +) / Double(medians.count)
            let y = layout.y.position(mean)
            return ChartCanvas.line(x1: layout.x.position(Double(start) - 0.4), y1: y,
                                    x2: layout.x.position(Double(end - 1) + 0.4), y2: y,
                                    stroke: ChartPalette.ink, width: 1.2, dashed: true, className: "level")
        })
    }

    private func changeMarker(_ change: ChangePoint, layout: Layout) -> Markup {
        let x = layout.changeX(change)
        let colour = series.isWorse(change) ? ChartPalette.regressed : ChartPalette.improved
        let run = change.index < series.points.count ? series.points[change.index] : nil
        let label = UnitFormatting.change(change.forwardChange) + " · p " + UnitFormatting.pValue(change.pValue)
        let anchor = x > layout.area.right - 160 ? "end" : "start"
        return Markup.element("g", [
            "class": "change-point", "data-index": String(change.index), "data-run": run.map { String($0.runID) },
            "data-change": String(change.forwardChange),
        ]) {
            Markup.element("title") {
                "change point at run \(run.map { String($0.runID) } ?? "?") (\(run?.startedAt ?? "")): "
                    + "\(label), kernel \(run?.kernelRelease ?? "?")"
            }
            ChartCanvas.line(x1: x, y1: layout.area.top, x2: x, y2: layout.area.bottom, stroke: colour, width: 2,
                             className: "change-line")
            ChartCanvas.text(label, x: anchor == "end" ? x - 4 : x + 4, y: layout.area.top + 12, anchor: anchor,
                             className: "change-label")
        }
    }

    private func points(_ layout: Layout) -> Markup {
        let colour = ChartPalette.series(0)
        let coordinates = series.points.enumerated().map { index, point in
            (layout.x.position(Double(index)), layout.y.position(point.median))
        }
        let polyline = coordinates.map { "\(svgNumber($0.0)),\(svgNumber($0.1))" }.joined(separator: " ")
        var parts: [Markup] = [Markup.leaf("polyline", ["points": polyline, "fill": "none", "stroke": colour,
                                                        "stroke-width": "1.5", "class": "median-line"])]
        for (index, point) in series.points.enumerated() {
            let (x, y) = coordinates[index]
            if let low = point.low, let high = point.high, low.isFinite, high.isFinite {
                parts.append(ChartCanvas.line(x1: x, y1: layout.y.position(low), x2: x, y2: layout.y.position(high),
                                              stroke: colour, width: 1, className: "whisker"))
            }
            parts.append(Markup.element("circle", [
                "cx": svgNumber(x), "cy": svgNumber(y), "r": "3", "fill": point.accepted ? colour : "#ffffff",
                "stroke": colour, "stroke-width": "1.5", "class": "run", "data-run": String(point.runID),
            ]) {
                Markup.element("title") {
                    "run \(point.runID), \(point.startedAt), kernel \(point.kernelRelease): "
                        + UnitFormatting.format(point.median, unit: series.unit) + (point.accepted ? "" : " (not accepted)")
                }
            })
        }
        return .joined(parts)
    }
}

