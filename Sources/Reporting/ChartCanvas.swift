/// The pieces every SVG chart shares: the root element with its `<title>`, the heading, axes,
/// gridlines and a legend. Charts are drawn in a fixed coordinate space (`viewBox`) and scale
/// with the page.
enum ChartCanvas {
    /// What a chart shows; becomes its `data-chart` attribute.
    enum Kind: String { case scaling, phases, forest, trend }

    /// `<figure><svg class="chart" data-chart=kind>` with `<title>`, a visible heading and `content`.
    static func figure(kind: Kind, title: String, subtitle: String?, width: Double, height: Double,
                       @MarkupBuilder content: () -> Markup) -> Markup {
        Markup.element("figure", ["class": "chart-figure " + kind.rawValue]) {
            Markup.element("svg", [
                "xmlns": "http://www.w3.org/2000/svg",
                "class": "chart", "data-chart": kind.rawValue,
                "viewBox": "0 0 \(svgNumber(width)) \(svgNumber(height))",
                "width": svgNumber(width), "height": svgNumber(height),
                "role": "img", "aria-label": title,
            ]) {
                Markup.element("title") { title }
                text(TextMetrics.truncated(title, toWidth: width - 24), x: 12, y: 22, className: "chart-title")
                if let subtitle {
                    text(TextMetrics.truncated(subtitle, toWidth: width - 24), x: 12, y: 40, className: "chart-subtitle")
                }
                content()
            }
        }
    }

    /// A `<text>` element; `anchor` is "start", "middle" or "end".
    static func text(_ content: String, x: Double, y: Double, anchor: String = "start",
                     className: String? = nil, rotate: Bool = false) -> Markup {
        Markup.element("text", [
            "x": svgNumber(x), "y": svgNumber(y), "text-anchor": anchor, "class": className,
            "transform": rotate ? "rotate(-90 \(svgNumber(x)) \(svgNumber(y)))" : nil,
        ]) { content }
    }

    static func line(x1: Double, y1: Double, x2: Double, y2: Double, stroke: String,
                     width: Double = 1, dashed: Bool = false, className: String? = nil) -> Markup {
        Markup.leaf("line", [
            "x1": svgNumber(x1), "y1": svgNumber(y1), "x2": svgNumber(x2), "y2": svgNumber(y2),
            "stroke": stroke, "stroke-width": svgNumber(width),
            "stroke-dasharray": dashed ? "5 4" : nil, "class": className,
        ])
    }

    /// Horizontal gridlines and labels for a vertical value axis.
    static func valueAxisY(_ ticks: ValueTicks, labels: [String], scale: AxisScale, area: PlotArea) -> Markup {
        .joined(zip(ticks.values, labels).map { value, label in
            let y = scale.position(value)
            return .joined([
                line(x1: area.left, y1: y, x2: area.right, y2: y, stroke: ChartPalette.grid),
                text(label, x: area.left - 8, y: y + 4, anchor: "end", className: "tick"),
            ])
        })
    }

    /// Vertical gridlines and labels for a horizontal value axis.
    static func valueAxisX(_ ticks: ValueTicks, labels: [String], scale: AxisScale, area: PlotArea) -> Markup {
        .joined(zip(ticks.values, labels).map { value, label in
            let x = scale.position(value)
            return .joined([
                line(x1: x, y1: area.top, x2: x, y2: area.bottom, stroke: ChartPalette.grid),
                text(label, x: x, y: area.bottom + 16, anchor: "middle", className: "tick"),
            ])
        })
    }

    /// A legend entry: a colour swatch (a bar, or a line when `dashed` or `line`) and its label.
    struct LegendItem {
        var label: String
        var colour: String
        var style: Style = .box
        enum Style { case box, line, dashed, textOnly }
    }

    /// Legend entries laid out left to right, wrapping at `width`; returns the markup and its height.
    static func legend(_ items: [LegendItem], x: Double, y: Double, width: Double) -> (markup: Markup, height: Double) {
        guard !items.isEmpty else { return (.empty, 0) }
        var parts: [Markup] = []
        var cursor = (x: x, y: y)
        for item in items {
            let label = TextMetrics.truncated(item.label, toWidth: width - 30)
            let swatchWidth = item.style == .textOnly ? 0.0 : 20
            let itemWidth = swatchWidth + TextMetrics.width(label) + 14
            if cursor.x + itemWidth > x + width && cursor.x > x { cursor = (x, cursor.y + 18) }
            switch item.style {
            case .box:
                parts.append(Markup.leaf("rect", [
                    "x": svgNumber(cursor.x), "y": svgNumber(cursor.y - 9), "width": "14", "height": "10",
                    "rx": "2", "fill": item.colour,
                ]))
            case .line, .dashed:
                parts.append(line(x1: cursor.x, y1: cursor.y - 4, x2: cursor.x + 16, y2: cursor.y - 4,
                                  stroke: item.colour, width: 2, dashed: item.style == .dashed))
            case .textOnly:
                break
            }
            parts.append(text(label, x: cursor.x + swatchWidth, y: cursor.y, className: "legend"))
            cursor.x += itemWidth
        }
        return (Markup.element("g", ["class": "legend"]) { Markup.joined(parts) }, cursor.y - y + 18)
    }
}
