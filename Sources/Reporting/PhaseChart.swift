import Results

/// Draws a `PhaseBreakdown` as horizontal stacked bars, one per case (and side), one colour per phase.
struct PhaseChart {
    let breakdown: PhaseBreakdown

    private let width = 560.0
    private let rowHeight = 20.0
    private let rowGap = 10.0

    var markup: Markup {
        let legendItems = breakdown.phases.enumerated().map { index, metric in
            ChartCanvas.LegendItem(label: PhaseBreakdown.phaseName(metric), colour: ChartPalette.series(index))
        }
        let legend = ChartCanvas.legend(legendItems, x: 12, y: 62, width: width - 24)
        let labelWidth = min(220, max(60, breakdown.rows.map { TextMetrics.width($0.label) }.max() ?? 60))
        let top = 62 + legend.height + 6
        let area = PlotArea(left: labelWidth + 20, top: top, right: width - 70,
                            bottom: top + Double(breakdown.rows.count) * (rowHeight + rowGap))
        let height = area.bottom + 48
        let axis = ChartAxis(values: breakdown.rows.map(\.total), unit: .seconds, pixels: (area.left, area.right), tickCount: 4)
        let title = "\(breakdown.scenario): time per phase"

        return ChartCanvas.figure(kind: .phases, title: title, subtitle: "median of each phase, stacked",
                                  width: width, height: height) {
            legend.markup
            axis.horizontal(area: area)
            ChartCanvas.text(axis.title("time"), x: (area.left + area.right) / 2, y: height - 12,
                             anchor: "middle", className: "axis-label")
            for (index, row) in breakdown.rows.enumerated() {
                rowMarkup(row, y: area.top + Double(index) * (rowHeight + rowGap) + rowGap / 2,
                          scale: axis.scale, labelWidth: labelWidth)
            }
        }
    }

    private func rowMarkup(_ row: PhaseBreakdown.Row, y: Double, scale: AxisScale, labelWidth: Double) -> Markup {
        var parts: [Markup] = [
            ChartCanvas.text(TextMetrics.truncated(row.label, toWidth: labelWidth), x: 12, y: y + rowHeight / 2 + 4),
        ]
        var elapsed = 0.0
        for segment in row.segments {
            let start = scale.position(elapsed)
            elapsed += segment.seconds
            let end = scale.position(elapsed)
            let colourIndex = breakdown.phases.firstIndex(of: segment.metric) ?? 0
            parts.append(Markup.element("rect", [
                "x": svgNumber(start), "y": svgNumber(y), "width": svgNumber(max(0, end - start)),
                "height": svgNumber(rowHeight), "fill": ChartPalette.series(colourIndex),
            ]) {
                Markup.element("title") {
                    "\(row.label): \(PhaseBreakdown.phaseName(segment.metric)) \(UnitFormatting.format(segment.seconds, unit: .seconds))"
                }
            })
        }
        let x = scale.position(elapsed)
        parts.append(ChartCanvas.text(UnitFormatting.format(row.total, unit: .seconds), x: x + 6, y: y + rowHeight / 2 + 4,
                                      className: "value"))
        return Markup.element("g", ["class": "phase-row"]) { Markup.joined(parts) }
    }
}
