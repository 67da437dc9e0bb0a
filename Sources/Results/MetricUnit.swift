/// The unit of a metric's samples, as a type: reports format values from it, and result documents
/// store its symbol (`"s"`, `"pages/s"`, `"count"`), so their schema stays a plain string. A symbol
/// this version does not know is kept as written (`other`), so every document stays readable.
public enum MetricUnit: Hashable, Sendable, Codable, CustomStringConvertible {
    case seconds, milliseconds, microseconds, nanoseconds
    /// Things per second, named by the thing: `perSecond("pages")` is "pages/s".
    case perSecond(String)
    /// Bytes per second with a binary prefix: `bytesPerSecond(.gibi)` is "GiB/s".
    case bytesPerSecond(BinaryPrefix)
    /// A plain count: what is counted is the metric's name.
    case count
    /// A percentage: the value 12.3 means 12.3%.
    case percent
    /// A dimensionless ratio.
    case ratio
    /// A symbol this version does not know, kept as written.
    case other(String)

    /// "pages/s", the rate of most scenarios.
    public static let pagesPerSecond = MetricUnit.perSecond("pages")

    /// The prefixes of `bytesPerSecond`, powers of 1024.
    public enum BinaryPrefix: String, CaseIterable, Hashable, Sendable {
        case none = "", kibi = "Ki", mebi = "Mi", gibi = "Gi", tebi = "Ti"

        /// Bytes in one unit with this prefix.
        public var bytes: Double {
            switch self {
            case .none: 1
            case .kibi: 0x1p10
            case .mebi: 0x1p20
            case .gibi: 0x1p30
            case .tebi: 0x1p40
            }
        }
    }

    /// The unit as result documents (and the fleet exports) write it.
    public var symbol: String {
        switch self {
        case .seconds: "s"
        case .milliseconds: "ms"
        case .microseconds: "us"
        case .nanoseconds: "ns"
        case .perSecond(let thing): thing + "/s"
        case .bytesPerSecond(let prefix): prefix.rawValue + "B/s"
        case .count: "count"
        case .percent: "%"
        case .ratio: "ratio"
        case .other(let symbol): symbol
        }
    }

    /// Whether samples in this unit are durations.
    public var isTime: Bool {
        switch self {
        case .seconds, .milliseconds, .microseconds, .nanoseconds: true
        default: false
        }
    }

    /// The unit a document's symbol names: the one place symbols are read, when documents (or a
    /// selftest's figures, or the history database) are. Older spellings ("µs", "x") still read.
    public init(symbol: String) {
        switch symbol {
        case "s": self = .seconds
        case "ms": self = .milliseconds
        case "us", "µs", "μs": self = .microseconds
        case "ns": self = .nanoseconds
        case "count", "": self = .count
        case "%": self = .percent
        case "ratio", "x", "×": self = .ratio
        default:
            if let prefix = BinaryPrefix.allCases.first(where: { symbol == $0.rawValue + "B/s" }) {
                self = .bytesPerSecond(prefix)
            } else if symbol.hasSuffix("/s") {
                self = .perSecond(String(symbol.dropLast(2)))
            } else {
                self = .other(symbol)
            }
        }
    }

    public var description: String { symbol }

    public init(from decoder: any Decoder) throws {
        self.init(symbol: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(symbol)
    }
}
