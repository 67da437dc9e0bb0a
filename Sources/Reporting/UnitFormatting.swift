import Foundation
import Results

/// Numbers with their units, for people: every value a report prints goes through here.
///
/// Times are scaled to the unit that reads best (`0.000123` "s" -> "123.0 µs"), rates get SI
/// prefixes ("1.23 M pages/s"), byte rates binary ones ("512.0 MiB/s"), counts get thousands
/// separators ("1,234,567"), and relative changes a sign ("+12.3%").
public enum UnitFormatting {
    /// `value`, measured in `unit`, as a person would write it: "123.0 µs", "1.23 M pages/s", "1,234".
    ///
    /// A plain count (`.count`) prints without a unit: what is counted is the metric's name.
    public static func format(_ value: Double, unit: MetricUnit) -> String {
        guard value.isFinite else { return value.isNaN ? "n/a" : (value < 0 ? "-∞" : "∞") }
        let kind = UnitKind(unit)
        switch kind {
        case .count:
            let isWhole = value.rounded() == value
            return NumberText.grouped(value, decimals: isWhole ? 0 : 1)
        case .percent:
            return NumberText.readable(value) + "%"
        case .ratio:
            return NumberText.readable(value) + "×"
        default:
            if value == 0 { return "0 " + DisplayScale(kind: kind, magnitude: 0).symbol }
            let scale = DisplayScale(kind: kind, magnitude: value)
            return NumberText.readable(value / scale.divisor) + " " + scale.symbol
        }
    }

    /// A relative change (`0.123` = 12.3% larger) as a signed percentage: "+12.3%", "-4.0%", "0.0%".
    public static func change(_ relative: Double) -> String {
        guard relative.isFinite else { return "n/a" }
        let percent = relative * 100
        let decimals = abs(percent) >= 1000 ? 0 : 1
        let digits = NumberText.grouped(abs(percent), decimals: decimals)
        let roundsToZero = digits.allSatisfy { $0 == "0" || $0 == "." }
        if roundsToZero { return digits + "%" }
        return (percent > 0 ? "+" : "-") + digits + "%"
    }

    /// A p-value for a table: "0.008", "0.43", "<0.001"; "n/a" when there is none.
    public static func pValue(_ p: Double?) -> String {
        guard let p, p.isFinite else { return "n/a" }
        if p < 0.001 { return "<0.001" }
        return NumberText.fixed(p, decimals: p < 0.1 ? 3 : 2)
    }

    /// An integer count with thousands separators: "1,234,567", "-12".
    public static func count<Number: BinaryInteger>(_ value: Number) -> String {
        NumberText.grouped(Double(value), decimals: 0)
    }

    /// A wall-clock duration: "45.2 s", "12 min 05 s", "1 h 02 min".
    public static func duration(_ seconds: TimeInterval) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "n/a" }
        if seconds < 60 { return format(seconds, unit: .seconds) }
        let whole = Int(seconds.rounded())
        if whole < 3600 { return "\(whole / 60) min " + twoDigits(whole % 60) + " s" }
        return "\(whole / 3600) h " + twoDigits(whole % 3600 / 60) + " min"
    }

    /// A byte count with a binary prefix: "64.0 GiB".
    public static func bytes(_ value: UInt64) -> String {
        let steps: [(Double, String)] = [(0x1p40, "TiB"), (0x1p30, "GiB"), (0x1p20, "MiB"), (0x1p10, "KiB")]
        let size = Double(value)
        guard let step = steps.first(where: { size >= $0.0 }) else { return "\(value) B" }
        return NumberText.readable(size / step.0) + " " + step.1
    }

    private static func twoDigits(_ value: Int) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }
}
