import Foundation

/// "256M", "2G", "4K": the size syntax of the command line.
public func formatSize(_ bytes: UInt64) -> String {
    for (unit, suffix) in [(UInt64(1) << 40, "T"), (1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")] where bytes >= unit && bytes % unit == 0 {
        return "\(bytes / unit)\(suffix)"
    }
    return "\(bytes)"
}

/// Parses "256M", "2G", "4096", "1.5G" (binary units) into bytes.
public func parseSize(_ text: String) -> UInt64? {
    let trimmed = text.trimmingCharacters(in: .whitespaces).uppercased()
    guard let last = trimmed.last else { return nil }
    let multipliers: [Character: Double] = ["K": 1024, "M": 1_048_576, "G": 1_073_741_824, "T": 1_099_511_627_776]
    var number = trimmed
    var multiplier = 1.0
    if let m = multipliers[last] {
        multiplier = m
        number.removeLast()
        if number.hasSuffix("I") { number.removeLast() } // "256MiB" -> "256M" handled below
    } else if trimmed.hasSuffix("IB"), let m = multipliers[trimmed.dropLast(2).last ?? " "] {
        multiplier = m
        number = String(trimmed.dropLast(3))
    }
    guard let value = Double(number), value >= 0 else { return nil }
    return exactUInt64(value * multiplier)
}

/// `value` as a UInt64 when it is finite and fits (2^64 and above, NaN and infinity give nil
/// instead of trapping), rounded towards zero.
public func exactUInt64(_ value: Double) -> UInt64? {
    guard value.isFinite, value >= 0, value < 18_446_744_073_709_551_616.0 else { return nil }
    return UInt64(value)
}
