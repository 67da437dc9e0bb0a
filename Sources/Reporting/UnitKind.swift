/// What a metric's unit string means for display: how to scale it and what to print after the number.
///
/// Metric units are plain strings in result documents ("s", "ms", "us", "ns", "pages/s", "GiB/s",
/// "count", "%", "ratio"); this is the one place that interprets them.
enum UnitKind: Equatable, Sendable {
    /// A duration; the payload is how many seconds one unit is ("ms" -> 0.001).
    case time(secondsPerUnit: Double)
    /// Bytes per second; the payload is how many bytes one unit is ("GiB/s" -> 2^30).
    case byteRate(bytesPerUnit: Double)
    /// Anything else per second ("pages/s"), scaled with SI prefixes; the payload is the unit as written.
    case rate(String)
    /// A plain count: no unit is printed, only thousands separators.
    case count
    /// A percentage (the value 12.3 means 12.3%).
    case percent
    /// A dimensionless ratio, printed with a multiplication sign ("1.23×").
    case ratio
    /// A unit this module does not know; printed as written, unscaled.
    case other(String)

    init(_ unit: String) {
        switch unit {
        case "s": self = .time(secondsPerUnit: 1)
        case "ms": self = .time(secondsPerUnit: 1e-3)
        case "us", "µs", "μs": self = .time(secondsPerUnit: 1e-6)
        case "ns": self = .time(secondsPerUnit: 1e-9)
        case "B/s": self = .byteRate(bytesPerUnit: 1)
        case "KiB/s": self = .byteRate(bytesPerUnit: 0x1p10)
        case "MiB/s": self = .byteRate(bytesPerUnit: 0x1p20)
        case "GiB/s": self = .byteRate(bytesPerUnit: 0x1p30)
        case "TiB/s": self = .byteRate(bytesPerUnit: 0x1p40)
        case "count", "": self = .count
        case "%": self = .percent
        case "ratio", "x", "×": self = .ratio
        default: self = unit.hasSuffix("/s") ? .rate(unit) : .other(unit)
        }
    }

    var isTime: Bool {
        if case .time = self { return true }
        return false
    }

    /// True for "more per second" units, where a linear-scaling ideal makes sense.
    var isRate: Bool {
        switch self {
        case .rate, .byteRate: return true
        default: return false
        }
    }
}
