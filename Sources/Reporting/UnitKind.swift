import Results

/// How a metric's unit is displayed: how to scale it and what to print after the number. Built
/// from the typed `MetricUnit`; nothing here reads unit strings.
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

    init(_ unit: MetricUnit) {
        switch unit {
        case .seconds: self = .time(secondsPerUnit: 1)
        case .milliseconds: self = .time(secondsPerUnit: 1e-3)
        case .microseconds: self = .time(secondsPerUnit: 1e-6)
        case .nanoseconds: self = .time(secondsPerUnit: 1e-9)
        case .bytesPerSecond(let prefix): self = .byteRate(bytesPerUnit: prefix.bytes)
        case .perSecond: self = .rate(unit.symbol)
        case .count: self = .count
        case .percent: self = .percent
        case .ratio: self = .ratio
        case .other(let symbol): self = .other(symbol)
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
