import Foundation

/// Locale-independent number text: reports must read the same on every machine and in CI logs.
enum NumberText {
    /// `value` with exactly `decimals` digits after the point ("1234.50"); never prints "-0.0".
    static func fixed(_ value: Double, decimals: Int) -> String {
        let text = String(format: "%.\(max(0, decimals))f", value)
        let isNegativeZero = text.hasPrefix("-") && text.dropFirst().allSatisfy { $0 == "0" || $0 == "." }
        return isNegativeZero ? String(text.dropFirst()) : text
    }

    /// `value` with `decimals` digits after the point and a comma between thousands ("1,234,567.5").
    static func grouped(_ value: Double, decimals: Int) -> String {
        let text = fixed(value, decimals: decimals)
        let sign = text.hasPrefix("-") ? "-" : ""
        let unsigned = text.dropFirst(sign.count)
        let integerPart = unsigned.prefix { $0 != "." }
        let fraction = unsigned.dropFirst(integerPart.count)
        var groups: [Substring] = []
        var end = integerPart.endIndex
        while end > integerPart.startIndex {
            let start = integerPart.index(end, offsetBy: -3, limitedBy: integerPart.startIndex) ?? integerPart.startIndex
            groups.insert(integerPart[start..<end], at: 0)
            end = start
        }
        return sign + groups.joined(separator: ",") + fraction
    }

    /// The number of decimals that shows about three significant digits of an already scaled value:
    /// 1.23, 12.3, 123.0, 1,234.
    static func decimals(forScaled value: Double) -> Int {
        switch abs(value) {
        case ..<10: return 2
        case ..<1000: return 1
        default: return 0
        }
    }

    /// A scaled value with the precision `decimals(forScaled:)` picks, grouped when large.
    static func readable(_ value: Double) -> String {
        grouped(value, decimals: decimals(forScaled: value))
    }
}
