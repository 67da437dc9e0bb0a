/// Which direction of a metric is good: times are `lower`, rates are `higher`.
public enum Polarity: String, Codable, Sendable, Equatable {
    case lower, higher
}
