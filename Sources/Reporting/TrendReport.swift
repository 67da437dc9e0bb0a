import Foundation
import Statistics

/// The trend page `kvmbench history show METRIC --html FILE` writes: one self-contained HTML file
/// (inline CSS and SVG, no scripts) with a table of the change points found, then per host and case
/// the metric's series as a chart with its change points marked, and the numbers folded beneath.
public enum TrendReport {
    public static func render(_ series: [TrendSeries], title: String) -> String {
        let changeCount = series.reduce(0) { $0 + $1.changePoints.count }
        return HTMLPage.document(title: title, generator: "kvmbench history show") {
            Markup.element("p", ["class": "muted"]) {
                "\(series.count) series · \(changeCount) change point\(changeCount == 1 ? "" : "s") "
                    + "(E-divisive means with Otava's t-test, window \(ChangePointDetection.defaultWindowLength) runs, "
                    + "p ≤ \(ChangePointDetection.defaultMaxPValue))"
            }
        } body: {
            changeTable(series)
            Markup.element("section", ["class": "trends"]) {
                Markup.element("h2") { "Series" }
                for item in series {
                    Markup.element("div", ["class": "charts"]) { TrendChart(series: item).markup }
                    numbers(item)
                }
            }
        }
    }

    private static func changeTable(_ series: [TrendSeries]) -> Markup {
        var table = HTMLTable(titles: ["Host", "Case", "Metric", "From run#", "Started", "Kernel", "Before#", "After#", "Change#", "p#"],
                              className: "change-points")
        for item in series {
            for change in item.changePoints where change.index < item.points.count {
                let run = item.points[change.index]
                table.append([
                    .init(item.host), .init(item.caseKey), .init(markup: Markup.element("span", ["class": "metric-name"]) { item.metric }),
                    .init(String(run.runID), numeric: true), .init(run.startedAt), .init(run.kernelRelease),
                    .init(UnitFormatting.format(change.meanBefore, unit: item.unit), numeric: true),
                    .init(UnitFormatting.format(change.meanAfter, unit: item.unit), numeric: true),
                    .init(UnitFormatting.change(change.forwardChange), numeric: true, className: "change"),
                    .init(UnitFormatting.pValue(change.pValue), numeric: true),
                ], className: item.isWorse(change) ? "v-regressed" : "v-improved")
            }
        }
        return Markup.element("section", ["class": "changes"]) {
            Markup.element("h2") { "Change points" }
            if table.isEmpty {
                Markup.element("p", ["class": "muted"]) { "No change point in these series." }
            } else {
                table.markup
            }
        }
    }

    private static func numbers(_ item: TrendSeries) -> Markup {
        var table = HTMLTable(titles: ["Run#", "Started", "Kernel", "Median#", "Interval#", "Accepted"], className: "compact")
        for point in item.points {
            let interval = point.low.flatMap { low in point.high.map { high in
                UnitFormatting.format(low, unit: item.unit) + " – " + UnitFormatting.format(high, unit: item.unit) } } ?? "-"
            table.append([
                .init(String(point.runID), numeric: true), .init(point.startedAt), .init(point.kernelRelease),
                .init(UnitFormatting.format(point.median, unit: item.unit), numeric: true), .init(interval, numeric: true),
                .init(point.accepted ? "yes" : "no"),
            ])
        }
        return Markup.element("details", ["class": "trend-numbers"]) {
            Markup.element("summary") { "\(item.points.count) runs of \(item.metric) on \(item.host)" }
            table.markup
        }
    }
}
