import Foundation

/// Maps data values onto pixel positions along one axis, linearly or on a log scale.
struct AxisScale: Sendable {
    var domain: (low: Double, high: Double)
    /// Pixel positions of `domain.low` and `domain.high`; `high` may be smaller (a y axis grows up).
    var pixels: (low: Double, high: Double)
    var logarithmic = false

    func position(_ value: Double) -> Double {
        let (low, high, point) = logarithmic
            ? (log2(domain.low), log2(domain.high), log2(max(value, .leastNormalMagnitude)))
            : (domain.low, domain.high, value)
        let fraction = high == low ? 0.5 : (point - low) / (high - low)
        return pixels.low + fraction * (pixels.high - pixels.low)
    }
}

/// Round tick values for a value axis that starts at zero: 0, 0.5, 1, 1.5, ...
struct ValueTicks: Sendable {
    let values: [Double]
    /// The axis end: the last tick, at or above the largest value.
    var top: Double { values.last ?? 1 }

    /// About `count` intervals from zero to at least `maximum`, with steps of 1, 2, 2.5 or 5 × 10^k.
    init(upTo maximum: Double, count: Int = 5) {
        let span = maximum.isFinite && maximum > 0 ? maximum : 1
        let rough = span / Double(max(count, 1))
        let magnitude = pow(10, floor(log10(rough)))
        let step = [1, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= rough } ?? 10 * magnitude
        let intervals = Int((span / step - 1e-9).rounded(.up))
        values = (0...max(intervals, 1)).map { Double($0) * step }
    }

    /// The ticks divided by `divisor`, printed with the fewest decimals that keep them exact.
    func labels(divisor: Double, suffix: String = "") -> [String] {
        let scaled = values.map { $0 / divisor }
        let decimals = (0...3).first { decimals in
            let factor = pow(10, Double(decimals))
            return scaled.allSatisfy { abs(($0 * factor).rounded() - $0 * factor) < 1e-6 * max(1, factor) }
        } ?? 3
        return scaled.map { NumberText.grouped($0, decimals: decimals) + suffix }
    }
}

/// The drawing area of a chart inside its SVG canvas.
struct PlotArea: Sendable {
    var left: Double
    var top: Double
    var right: Double
    var bottom: Double
    var width: Double { right - left }
    var height: Double { bottom - top }
}

/// Rough text metrics for laying out SVG labels without a renderer (12 px system sans-serif).
enum TextMetrics {
    static let averageCharacterWidth = 7.0

    static func width(_ text: String, fontSize: Double = 12) -> Double {
        Double(text.count) * averageCharacterWidth * fontSize / 12
    }

    /// `text` cut to fit `width` pixels, with an ellipsis when cut.
    static func truncated(_ text: String, toWidth width: Double) -> String {
        let capacity = Int(width / averageCharacterWidth)
        guard text.count > capacity, capacity > 1 else { return text }
        return String(text.prefix(capacity - 1)) + "…"
    }
}

/// A coordinate or length for an SVG attribute: one decimal is plenty at screen resolution.
func svgNumber(_ value: Double) -> String {
    NumberText.fixed(value.isFinite ? value : 0, decimals: 1)
}
