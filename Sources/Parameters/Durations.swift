import Foundation

/// Durations as the command line writes them: "10us", "500ns", "2ms", "1.5s", "0".
///
/// A number without a unit is in `plainUnit` nanoseconds: microseconds for `--uffd-delay` (the
/// selftests' -d), seconds for `--duration`. Returns nanoseconds, or nil for anything else.
public func parseDuration(_ text: String, plainUnit: Double = 1_000) -> UInt64? {
    let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
    let units: [(String, Double)] = [("ns", 1), ("us", 1_000), ("µs", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000)]
    var number = Substring(trimmed)
    var scale = plainUnit
    for (suffix, unitScale) in units where trimmed.hasSuffix(suffix) {
        number = trimmed.dropLast(suffix.count)
        scale = unitScale
        break
    }
    guard let value = Double(number), value >= 0, value.isFinite else { return nil }
    return exactUInt64((value * scale).rounded())
}

/// "10us", "2ms", "1s", "0": the inverse of `parseDuration` for whole units.
public func formatDuration(_ nanos: UInt64) -> String {
    if nanos == 0 { return "0" }
    for (suffix, scale) in [("s", UInt64(1_000_000_000)), ("ms", 1_000_000), ("us", 1_000)] where nanos % scale == 0 {
        return "\(nanos / scale)\(suffix)"
    }
    return "\(nanos)ns"
}
