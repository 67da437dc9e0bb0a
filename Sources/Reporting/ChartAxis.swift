import Results

/// A value axis that starts at zero, as the trend, scaling and phase charts draw it: round ticks
/// up to the first one at or above the largest value (with some headroom), the scale from values
/// onto pixels, and one display unit for every tick label ("ms", "M pages/s").
struct ChartAxis: Sendable {
    let ticks: ValueTicks
    let scale: AxisScale
    let display: DisplayScale

    /// An axis for values up to `largest` (in `unit`), ending at the first round tick at or above
    /// `largest × headroom`; `pixels` are where 0 and that tick go (a y axis: bottom, then top).
    init(largest: Double, headroom: Double = 1, unit: MetricUnit, pixels: (low: Double, high: Double), tickCount: Int = 5) {
        let top = largest.isFinite && largest > 0 ? largest : 1
        ticks = ValueTicks(upTo: top * headroom, count: tickCount)
        scale = AxisScale(domain: (0, ticks.top), pixels: pixels)
        display = DisplayScale(unit: unit, magnitude: ticks.top)
    }

    /// An axis for `values`, whose finite largest sets its end (1 when there is none).
    init(values: [Double], headroom: Double = 1, unit: MetricUnit, pixels: (low: Double, high: Double), tickCount: Int = 5) {
        self.init(largest: values.filter(\.isFinite).max() ?? 1, headroom: headroom, unit: unit, pixels: pixels, tickCount: tickCount)
    }

    /// The tick labels in the axis's display unit, without the unit: "0", "20", "40", "60".
    var labels: [String] { ticks.labels(divisor: display.divisor) }

    func position(_ value: Double) -> Double { scale.position(value) }

    /// The axis title: "first_touch_time (ms)", or the name alone for plain counts.
    func title(_ name: String) -> String {
        display.symbol.isEmpty ? name : "\(name) (\(display.symbol))"
    }

    /// A vertical axis on the left of `area`: a gridline and label per tick, the baseline along the
    /// bottom, and `title(name)` rotated beside it.
    func vertical(area: PlotArea, name: String) -> Markup {
        .joined([
            ChartCanvas.valueAxisY(ticks, labels: labels, scale: scale, area: area),
            ChartCanvas.line(x1: area.left, y1: area.bottom, x2: area.right, y2: area.bottom, stroke: ChartPalette.axis),
            ChartCanvas.text(title(name), x: 16, y: (area.top + area.bottom) / 2, anchor: "middle",
                             className: "axis-label", rotate: true),
        ])
    }

    /// A horizontal axis under `area`: a gridline and label per tick.
    func horizontal(area: PlotArea) -> Markup {
        ChartCanvas.valueAxisX(ticks, labels: labels, scale: scale, area: area)
    }
}
