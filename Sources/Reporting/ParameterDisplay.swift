import Foundation
import Results

/// How a case's parameters read in reports: the well-known ones first, in the order a person
/// thinks about a run (how many vCPUs, how much memory, backed how), then the rest alphabetically.
enum ParameterDisplay {
    static let preferredOrder = [
        "vcpus", "mem_per_vcpu", "backing", "guest_page_size",
        "slots", "slots_requested", "slots_effective", "dirty_mode",
    ]

    /// The parameters in display order.
    static func ordered(_ parameters: [String: String]) -> [(key: String, value: String)] {
        parameters.sorted { lhs, rhs in
            let left = preferredOrder.firstIndex(of: lhs.key) ?? Int.max
            let right = preferredOrder.firstIndex(of: rhs.key) ?? Int.max
            return left != right ? left < right : lhs.key < rhs.key
        }.map { (key: $0.key, value: $0.value) }
    }

    /// "vcpus=4 mem_per_vcpu=1G backing=anonymous", or "defaults" when there are none.
    static func summary(_ parameters: [String: String]) -> String {
        let pairs = ordered(parameters).map { "\($0.key)=\($0.value)" }
        return pairs.isEmpty ? "defaults" : pairs.joined(separator: " ")
    }

    /// The parameter names whose values are not the same in every one of `parameterSets`: what
    /// tells those cases apart.
    static func differingKeys(_ parameterSets: [[String: String]]) -> Set<String> {
        let names = Set(parameterSets.flatMap(\.keys))
        return names.filter { name in Set(parameterSets.map { $0[name] ?? "" }).count > 1 }
    }

    /// Only the parameters named in `keys`, as `summary` prints them ("backing=thp").
    static func summary(_ parameters: [String: String], only keys: Set<String>) -> String {
        ordered(parameters.filter { keys.contains($0.key) }).map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    /// A case as one line of plain text: "demand-paging [vcpus=4 backing=anonymous]".
    static func caseLabel(scenario: String, parameters: [String: String]) -> String {
        "\(scenario) [\(summary(parameters))]"
    }

    /// A compared metric as one line: "demand-paging [vcpus=4] first_touch_time".
    static func testLabel(_ metric: MetricComparison) -> String {
        caseLabel(scenario: metric.scenario, parameters: metric.parameters) + " " + metric.metric
    }

    /// A numeric reading of a parameter value: "4" -> 4, "512M" -> 536870912, "1GiB" -> 1073741824.
    static func numericValue(_ text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let plain = Double(trimmed), plain.isFinite { return plain }
        let multipliers: [(String, Double)] = [
            ("KiB", 0x1p10), ("MiB", 0x1p20), ("GiB", 0x1p30), ("TiB", 0x1p40),
            ("KB", 0x1p10), ("MB", 0x1p20), ("GB", 0x1p30), ("TB", 0x1p40),
            ("K", 0x1p10), ("M", 0x1p20), ("G", 0x1p30), ("T", 0x1p40),
            ("k", 0x1p10), ("m", 0x1p20), ("g", 0x1p30), ("t", 0x1p40),
        ]
        for (suffix, multiplier) in multipliers where trimmed.hasSuffix(suffix) {
            guard let number = Double(trimmed.dropLast(suffix.count)), number.isFinite else { return nil }
            return number * multiplier
        }
        return nil
    }
}
