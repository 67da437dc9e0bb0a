import Foundation
import Results

/// A forest plot of a comparison: one row per metric, the ratio median(after) / median(before) as a
/// dot on a log axis, its confidence interval as a line, and the metric's "unchanged" band
/// (1 ± threshold) shaded behind it. Rows are grouped by scenario and case; dots are coloured by
/// verdict. A dot beyond the axis is drawn at the edge as an arrow.
struct ComparisonForestChart {
    let rows: [MetricComparison]
    let groups: ComparisonGroups
    let title: String
    let subtitle: String

    static let width = 920.0
    static let rowHeight = 18.0
    static let headingHeight = 22.0
    static let labelWidth = 330.0
    static let annotationWidth = 170.0

    /// The scale every row shares: log2, symmetric around 1×, wide enough for every dot,
    /// interval and band, at most 1/8× to 8×.
    static func scale(for rows: [MetricComparison], area: PlotArea) -> AxisScale {
        var extent = 0.1
        for metric in rows {
            let values = [metric.ratio, metric.interval?.low, metric.interval?.high, 1 + metric.threshold,
                          max(1 - metric.threshold, 0.01)].compactMap { $0 }.filter { $0 > 0 && $0.isFinite }
            for value in values { extent = max(extent, abs(log2(value))) }
        }
        extent = min(extent * 1.08, 3)
        return AxisScale(domain: (pow(2, -extent), pow(2, extent)), pixels: (area.left, area.right), logarithmic: true)
    }

    /// The plot area for `rowCount` rows and `headingCount` group headings below a top margin.
    static func area(rowCount: Int, headingCount: Int, top: Double) -> PlotArea {
        PlotArea(left: labelWidth, top: top, right: width - annotationWidth,
                 bottom: top + Double(rowCount) * rowHeight + Double(headingCount) * headingHeight)
    }

    /// The rows in drawing order, with a heading before each case that has rows.
    private enum Line {
        case heading(String)
        case metric(MetricComparison)
    }

    private var lines: [Line] {
        let wanted = Set(rows.map { $0.caseKey + "\u{0}" + $0.metric })
        var lines: [Line] = []
        for scenario in groups.scenarios {
            for item in scenario.cases {
                let chosen = item.metrics.filter { wanted.contains($0.caseKey + "\u{0}" + $0.metric) }
                guard !chosen.isEmpty else { continue }
                let label = groups.shortCaseLabel(scenario: scenario.name, parameters: item.parameters)
                lines.append(.heading(scenario.name + (label.isEmpty ? "" : " · " + label)))
                lines += chosen.map(Line.metric)
            }
        }
        return lines
    }

    var markup: Markup {
        let lines = self.lines
        let headingCount = lines.filter { if case .heading = $0 { return true } else { return false } }.count
        let top = 72.0
        let area = Self.area(rowCount: lines.count - headingCount, headingCount: headingCount, top: top)
        let height = area.bottom + 44
        let scale = Self.scale(for: rows, area: area)
        let ticks = Self.ticks(scale)
        let legend = ChartCanvas.legend(legendItems, x: 12, y: 60, width: Self.width - 24)

        return ChartCanvas.figure(kind: .forest, title: title, subtitle: subtitle, width: Self.width, height: height) {
            legend.markup
            for tick in ticks {
                ChartCanvas.line(x1: scale.position(tick), y1: area.top, x2: scale.position(tick), y2: area.bottom,
                                 stroke: ChartPalette.grid)
                ChartCanvas.text(Self.tickLabel(tick), x: scale.position(tick), y: area.bottom + 16, anchor: "middle", className: "tick")
            }
            ChartCanvas.line(x1: scale.position(1), y1: area.top, x2: scale.position(1), y2: area.bottom,
                             stroke: ChartPalette.ink, width: 1, dashed: true)
            ChartCanvas.text("median(after) ÷ median(before), log scale · shaded: unchanged band 1 ± threshold",
                             x: (area.left + area.right) / 2, y: height - 10, anchor: "middle", className: "axis-label")
            linesMarkup(lines, scale: scale, area: area)
        }
    }

    private func linesMarkup(_ lines: [Line], scale: AxisScale, area: PlotArea) -> Markup {
        var y = area.top
        var parts: [Markup] = []
        for line in lines {
            switch line {
            case .heading(let text):
                parts.append(ChartCanvas.text(TextMetrics.truncated(text, toWidth: Self.labelWidth + area.width),
                                              x: 12, y: y + 16, className: "forest-heading"))
                y += Self.headingHeight
            case .metric(let metric):
                parts.append(row(metric, y: y, scale: scale, area: area))
                y += Self.rowHeight
            }
        }
        return .joined(parts)
    }

    private func row(_ metric: MetricComparison, y: Double, scale: AxisScale, area: PlotArea) -> Markup {
        let middle = y + Self.rowHeight / 2
        let colour = ChartPalette.verdict(metric.verdict)
        let (low, high) = (scale.domain.low, scale.domain.high)
        let clamp = { (value: Double) in min(max(value, low), high) }
        let bandLow = scale.position(clamp(max(1 - metric.threshold, low))), bandHigh = scale.position(clamp(1 + metric.threshold))
        let ratio = metric.ratio
        return Markup.element("g", [
            "class": "forest-row " + metric.verdict.cssClass,
            "data-case": metric.caseKey, "data-metric": metric.metric,
            "data-ratio": ratio.map { String($0) }, "data-threshold": String(metric.threshold),
            "data-low": metric.interval.map { String($0.low) }, "data-high": metric.interval.map { String($0.high) },
        ]) {
            Markup.element("title") {
                "\(metric.metric): \(metric.ratioText), threshold \(metric.thresholdText), p \(UnitFormatting.pValue(metric.pValue)), \(metric.verdict.label)"
            }
            Markup.leaf("rect", [
                "x": svgNumber(bandLow), "y": svgNumber(y + 2), "width": svgNumber(bandHigh - bandLow),
                "height": svgNumber(Self.rowHeight - 4), "fill": "#eef0f3", "class": "threshold-band",
            ])
            ChartCanvas.text(TextMetrics.truncated(metric.metric, toWidth: Self.labelWidth - 30), x: 24, y: middle + 4,
                             className: "forest-label")
            if let interval = metric.interval {
                let from = scale.position(clamp(interval.low)), to = scale.position(clamp(interval.high))
                ChartCanvas.line(x1: from, y1: middle, x2: to, y2: middle, stroke: colour, width: 2, className: "interval")
                ChartCanvas.line(x1: from, y1: middle - 4, x2: from, y2: middle + 4, stroke: colour, width: 1.5)
                ChartCanvas.line(x1: to, y1: middle - 4, x2: to, y2: middle + 4, stroke: colour, width: 1.5)
            }
            if let ratio {
                if ratio < low || ratio > high {
                    let x = scale.position(clamp(ratio)), direction = ratio > high ? 1.0 : -1.0
                    Markup.leaf("path", [
                        "d": "M\(svgNumber(x - 6 * direction)) \(svgNumber(middle - 5))L\(svgNumber(x)) \(svgNumber(middle))L\(svgNumber(x - 6 * direction)) \(svgNumber(middle + 5))Z",
                        "fill": colour, "class": "point beyond",
                    ])
                } else {
                    Markup.leaf("circle", [
                        "cx": svgNumber(scale.position(ratio)), "cy": svgNumber(middle), "r": "4",
                        "fill": metric.interval == nil ? "#ffffff" : colour, "stroke": colour, "stroke-width": "1.5",
                        "class": "point",
                    ])
                }
            }
            ChartCanvas.text(UnitFormatting.change(metric.change), x: area.right + 60, y: middle + 4, anchor: "end",
                             className: "forest-change " + metric.verdict.cssClass)
            ChartCanvas.text(metric.verdict.label, x: area.right + 70, y: middle + 4,
                             className: "forest-verdict " + metric.verdict.cssClass)
        }
    }

    private var legendItems: [ChartCanvas.LegendItem] {
        var items: [ChartCanvas.LegendItem] = []
        var colours: [String] = []
        for verdict in rows.map(\.verdict).sorted(by: { $0.reportRank < $1.reportRank }) {
            let colour = ChartPalette.verdict(verdict)
            guard !colours.contains(colour) else { continue }
            colours.append(colour)
            let meaning: String
            switch colour {
            case ChartPalette.neutral: meaning = "unchanged / not significant"
            case ChartPalette.noisy: meaning = "cannot decide / noisy"
            default: meaning = verdict.label
            }
            items.append(.init(label: meaning, colour: colour))
        }
        items.append(.init(label: "dot: ratio of medians, line: 95% bootstrap interval, hollow: no interval", colour: "none", style: .textOnly))
        return items
    }

    /// Ratios worth a gridline inside the scale's domain, the round ones first, none closer than
    /// 40 px to another.
    static func ticks(_ scale: AxisScale) -> [Double] {
        let candidates = [1, 2, 0.5, 4, 0.25, 8, 0.125, 1.5, 0.67, 1.25, 0.8, 1.1, 0.9]
        var chosen: [Double] = []
        for tick in candidates where tick >= scale.domain.low && tick <= scale.domain.high {
            if chosen.allSatisfy({ abs(scale.position($0) - scale.position(tick)) >= 40 }) { chosen.append(tick) }
        }
        return chosen.sorted()
    }

    static func tickLabel(_ tick: Double) -> String {
        let text = String(format: "%.3g", tick)
        return text + "×"
    }
}
