import Harness
import Results

/// A scenario's metrics, declared once as stored properties (`MetricDefinition`s and
/// `MetricFamily`s) of a type of its own (`DemandPagingMetrics`, ...). Adding a metric is adding a
/// property there; `declared` finds it, so listings and tests need no second edit.
public protocol MetricDeclarations: Sendable {}

extension MetricDeclarations {
    /// Every declared metric, in declaration order; a family appears as its pattern ("<test>.average").
    public var declared: [MetricDefinition] {
        Mirror(reflecting: self).children.compactMap { child in
            (child.value as? MetricDefinition) ?? (child.value as? MetricFamily)?.pattern
        }
    }

    /// The declaration a result's metric name belongs to: a metric of that name, or a family
    /// whose pattern it fills in; nil for a name this scenario does not declare.
    public func declaration(of name: String) -> MetricDefinition? {
        let children = Mirror(reflecting: self).children.map(\.value)
        if let metric = children.lazy.compactMap({ $0 as? MetricDefinition }).first(where: { $0.name == name }) { return metric }
        // Families in declaration order: a specific pattern is declared before a general one.
        guard let family = children.lazy.compactMap({ $0 as? MetricFamily }).first(where: { $0.contains(name) }) else { return nil }
        return MetricDefinition(name, unit: family.pattern.unit, better: family.pattern.better, gated: family.pattern.gated)
    }
}

/// A scenario that declares its metrics: `Self.metrics` is its `MetricDeclarations`.
public protocol DeclaresMetrics {
    associatedtype Metrics: MetricDeclarations
    static var metrics: Metrics { get }
}

extension DeclaresMetrics {
    /// `metrics.declared`, reachable from `any DeclaresMetrics.Type` (the catalog's types).
    public static var declaredMetrics: [MetricDefinition] { metrics.declared }
    public static func declaration(of name: String) -> MetricDefinition? { metrics.declaration(of: name) }
}
