/// A metric a scenario reports, declared once: its name in results, its unit, which direction is
/// better, and whether the gate judges it by default. Scenarios add samples to declared metrics.
public struct MetricDefinition: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    public let unit: MetricUnit
    public let better: Polarity
    /// False for figures reported for insight but not gated on (counts, minima, verification).
    public let gated: Bool

    public init(_ name: String, unit: MetricUnit, better: Polarity, gated: Bool = true) {
        self.name = name
        self.unit = unit
        self.better = better
        self.gated = gated
    }

    /// A time in seconds, lower is better.
    public static func seconds(_ name: String, gated: Bool = true) -> MetricDefinition {
        MetricDefinition(name, unit: .seconds, better: .lower, gated: gated)
    }

    /// A count reported for insight, never gated; `better` says which way is good.
    public static func count(_ name: String, better: Polarity = .lower) -> MetricDefinition {
        MetricDefinition(name, unit: .count, better: better, gated: false)
    }

    /// The same metric, not gated.
    public var informational: MetricDefinition {
        MetricDefinition(name, unit: unit, better: better, gated: false)
    }

    /// "first_touch_time (s, lower is better, gated)".
    public var description: String {
        "\(name) (\(unit.symbol), \(better.rawValue) is better, \(gated ? "gated" : "not gated"))"
    }
}

/// Metrics that share a unit, polarity and gating and whose names carry a part the scenario knows
/// only while it runs: a test, a trigger, an iteration. The name is a pattern with `<placeholders>`
/// ("<test>.average", "iteration.<n>.<operation>"); `family("map")` fills them in order.
public struct MetricFamily: Hashable, Sendable, CustomStringConvertible {
    /// The declaration with the pattern as its name ("<test>.average").
    public let pattern: MetricDefinition

    public init(_ pattern: String, unit: MetricUnit, better: Polarity, gated: Bool = true) {
        self.pattern = MetricDefinition(pattern, unit: unit, better: better, gated: gated)
    }

    /// Times in seconds, lower is better.
    public static func seconds(_ pattern: String, gated: Bool = true) -> MetricFamily {
        MetricFamily(pattern, unit: .seconds, better: .lower, gated: gated)
    }

    /// Counts reported for insight, never gated.
    public static func count(_ pattern: String, better: Polarity = .lower) -> MetricFamily {
        MetricFamily(pattern, unit: .count, better: better, gated: false)
    }

    /// The member whose placeholders are `parts`, in order: `"<test>.average"("map")` is "map.average".
    public func callAsFunction(_ parts: String...) -> MetricDefinition {
        var name = ""
        var rest = Substring(pattern.name)
        var remaining = parts[...]
        while let open = rest.firstIndex(of: "<"), let close = rest[open...].firstIndex(of: ">") {
            precondition(!remaining.isEmpty, "metric family \(pattern.name) needs more parts than \(parts)")
            name += rest[..<open] + remaining.removeFirst()
            rest = rest[rest.index(after: close)...]
        }
        precondition(remaining.isEmpty, "metric family \(pattern.name) has fewer placeholders than \(parts)")
        name += rest
        return MetricDefinition(name, unit: pattern.unit, better: pattern.better, gated: pattern.gated)
    }

    /// Whether `name` is a member: the pattern with each placeholder standing for a non-empty text.
    public func contains(_ name: String) -> Bool {
        let pieces = pattern.name.split(separator: "<", omittingEmptySubsequences: false)
        // pieces[0] is literal; every later piece is "placeholder>literal".
        let literals = [Substring(pieces[0])] + pieces.dropFirst().map { piece in
            piece.firstIndex(of: ">").map { piece[piece.index(after: $0)...] } ?? piece
        }
        guard literals.count > 1 else { return name == pattern.name }
        guard name.hasPrefix(literals[0]) else { return false }
        var rest = Substring(name).dropFirst(literals[0].count)
        for (index, literal) in literals.enumerated().dropFirst() {
            if index == literals.count - 1 {
                return literal.isEmpty ? !rest.isEmpty : (rest.hasSuffix(literal) && rest.count > literal.count)
            }
            // A placeholder takes at least one character, then the next literal.
            guard !rest.isEmpty, let found = rest.dropFirst().firstRange(of: literal) else { return false }
            rest = rest[found.upperBound...]
        }
        return false
    }

    public var description: String { pattern.description }
}
