import Foundation

/// Draws a `ScalingPlot` as a line chart: measured medians with min–max whiskers per series, and
/// for rates against vCPUs a dashed ideal line, ideal(n) = n × value(smallest n) / smallest n.
struct ScalingChart {
    let plot: ScalingPlot

    private let width = 560.0
    private let height = 360.0

    /// How a parameter reads on an axis.
    static func axisName(_ parameter: String) -> String {
        switch parameter {
        case "vcpus": return "vCPUs"
        case "slots": return "memslots"
        case "mem_per_vcpu": return "memory per vCPU"
        default: return parameter
        }
    }

    var markup: Markup {
        let legendItems = legendEntries()
        let legend = ChartCanvas.legend(legendItems, x: 64, y: 62, width: width - 80)
        let area = PlotArea(left: 68, top: 62 + legend.height + 8, right: width - 20, bottom: height - 52)
        let xScale = self.xScale(area)
        let y = ChartAxis(values: plot.series.flatMap(\.points).map(\.range.max), headroom: plot.showsIdeal ? 1.25 : 1,
                          unit: plot.unit, pixels: (area.bottom, area.top))
        let direction = plot.better == .higher ? "higher is better" : "lower is better"
        let title = "\(plot.scenario): \(plot.metric) by \(Self.axisName(plot.parameter))"

        return ChartCanvas.figure(kind: .scaling, title: title, subtitle: direction, width: width, height: height) {
            y.vertical(area: area, name: plot.metric)
            xTicks(xScale, area: area)
            ChartCanvas.text(Self.axisName(plot.parameter), x: (area.left + area.right) / 2, y: height - 14,
                             anchor: "middle", className: "axis-label")
            legend.markup
            for (index, series) in plot.series.enumerated() {
                if plot.showsIdeal { idealLine(series, colour: ChartPalette.series(index), x: xScale, y: y.scale, top: y.ticks.top) }
                seriesMarkup(series, colour: ChartPalette.series(index), x: xScale, y: y.scale)
            }
        }
    }

    private func legendEntries() -> [ChartCanvas.LegendItem] {
        var items: [ChartCanvas.LegendItem] = []
        for (index, series) in plot.series.enumerated() {
            let label = series.label.isEmpty ? "median (whiskers: min–max)" : series.label
            items.append(.init(label: label, colour: ChartPalette.series(index), style: .line))
        }
        if plot.showsIdeal {
            items.append(.init(label: "ideal linear scaling", colour: ChartPalette.neutral, style: .dashed))
        }
        return items
    }

    private func xScale(_ area: PlotArea) -> AxisScale {
        let xs = plot.series.flatMap(\.points).map(\.x)
        let low = xs.min() ?? 0, high = xs.max() ?? 1
        let logarithmic = low > 0 && high / low >= 8
        let inset = 24.0
        return AxisScale(domain: (low, high), pixels: (area.left + inset, area.right - inset), logarithmic: logarithmic)
    }

    /// A tick per measured parameter value, skipping labels that would overlap their neighbour.
    private func xTicks(_ scale: AxisScale, area: PlotArea) -> Markup {
        var labels: [Double: String] = [:]
        for point in plot.series.flatMap(\.points) where labels[point.x] == nil { labels[point.x] = point.xLabel }
        var lastEdge = -Double.infinity
        var parts: [Markup] = []
        for (x, label) in labels.sorted(by: { $0.key < $1.key }) {
            let position = scale.position(x)
            parts.append(ChartCanvas.line(x1: position, y1: area.bottom, x2: position, y2: area.bottom + 5, stroke: ChartPalette.axis))
            let half = TextMetrics.width(label) / 2
            guard position - half > lastEdge + 4 else { continue }
            parts.append(ChartCanvas.text(label, x: position, y: area.bottom + 18, anchor: "middle", className: "tick"))
            lastEdge = position + half
        }
        return .joined(parts)
    }

    private func seriesMarkup(_ series: ScalingPlot.Series, colour: String, x: AxisScale, y: AxisScale) -> Markup {
        let coordinates = series.points.map { "\(svgNumber(x.position($0.x))),\(svgNumber(y.position($0.range.median)))" }
        return Markup.element("g", ["class": "series"]) {
            Markup.leaf("polyline", [
                "points": coordinates.joined(separator: " "), "fill": "none", "stroke": colour,
                "stroke-width": "2.5", "stroke-linejoin": "round",
            ])
            for point in series.points {
                let px = x.position(point.x)
                let low = y.position(point.range.min), high = y.position(point.range.max)
                if high < low - 1 {
                    ChartCanvas.line(x1: px, y1: low, x2: px, y2: high, stroke: colour, width: 1.2)
                    ChartCanvas.line(x1: px - 4, y1: low, x2: px + 4, y2: low, stroke: colour, width: 1.2)
                    ChartCanvas.line(x1: px - 4, y1: high, x2: px + 4, y2: high, stroke: colour, width: 1.2)
                }
                Markup.element("circle", [
                    "cx": svgNumber(px), "cy": svgNumber(y.position(point.range.median)), "r": "4",
                    "fill": "#ffffff", "stroke": colour, "stroke-width": "2",
                ]) {
                    Markup.element("title") { tooltip(point, series: series) }
                }
            }
        }
    }

    private func tooltip(_ point: ScalingPlot.Point, series: ScalingPlot.Series) -> String {
        let value = { UnitFormatting.format($0, unit: plot.unit) }
        let prefix = series.label.isEmpty ? "" : series.label + ", "
        return "\(prefix)\(plot.parameter)=\(point.xLabel): median \(value(point.range.median)) "
            + "(min \(value(point.range.min)), max \(value(point.range.max)), n=\(point.range.count))"
    }

    /// ideal(n) = n × value(smallest n) / smallest n, sampled densely so it stays straight on a
    /// log axis too, and cut where it leaves the top of the plot.
    private func idealLine(_ series: ScalingPlot.Series, colour: String, x: AxisScale, y: AxisScale, top: Double) -> Markup {
        guard let first = series.points.first, let last = series.points.last, first.x > 0 else { return .empty }
        let slope = first.range.median / first.x
        let end = slope > 0 ? min(last.x, top / slope) : last.x
        guard end > first.x else { return .empty }
        let steps = 48
        let coordinates = (0...steps).map { step -> String in
            let fraction = Double(step) / Double(steps)
            let n = x.logarithmic ? first.x * pow(end / first.x, fraction) : first.x + (end - first.x) * fraction
            return "\(svgNumber(x.position(n))),\(svgNumber(y.position(slope * n)))"
        }
        return Markup.leaf("polyline", [
            "points": coordinates.joined(separator: " "), "fill": "none", "stroke": colour,
            "stroke-width": "1.5", "stroke-dasharray": "6 4", "opacity": "0.7", "class": "ideal",
        ])
    }
}
