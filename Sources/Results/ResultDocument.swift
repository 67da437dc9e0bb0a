import Foundation

/// The document one `kvmbench run` or `kvmbench suite` writes: who measured, on what host, and every
/// sample of every case. Its shape is versioned; `schemaVersion` grows when a field changes meaning.
public struct ResultDocument: Codable, Sendable, Equatable {
    /// Version of this document's schema (see `Schemas/result.schema.json`).
    public static let currentSchemaVersion = 1

    public var schemaVersion: Int
    public var kvmbench: ToolInfo
    public var host: HostFingerprint
    /// The suite as it was run (after command-line overrides), when the run came from a suite.
    public var suite: SuiteRecord?
    /// The order the repetitions ran in; nil in documents written before it was recorded (they
    /// ran every case's repetitions back to back).
    public var order: RunOrder?
    public var startedAt: Date
    public var finishedAt: Date?
    /// True when the run was stopped (SIGINT/SIGTERM) before every case had run.
    public var interrupted: Bool
    public var cases: [CaseResult]

    public init(kvmbench: ToolInfo, host: HostFingerprint, suite: SuiteRecord? = nil,
                startedAt: Date = Date(), finishedAt: Date? = nil, interrupted: Bool = false,
                cases: [CaseResult] = []) {
        self.schemaVersion = Self.currentSchemaVersion
        self.kvmbench = kvmbench
        self.host = host
        self.suite = suite
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.interrupted = interrupted
        self.cases = cases
    }

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version", kvmbench, host, suite, order
        case startedAt = "started_at", finishedAt = "finished_at", interrupted, cases
    }
}

/// The order in which a run's repetitions ran. Drift on a host is slow (memory state, what ran
/// before, which CPU a thread lands on): run every case's repetitions back to back and a case
/// measured late in a run sees a different host from one measured early; interleave them in a
/// seeded random order and the drift spreads over every case alike.
public struct RunOrder: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// Each case's warm-ups and repetitions back to back, the cases in plan order.
        case sequential
        /// Rounds: each round runs one repetition of every case that has one left, in an order
        /// drawn anew per round from `seed`; a case's warm-ups run just before its first repetition.
        case interleaved
    }
    public var kind: Kind
    /// The seed of the rounds' orders (nil when sequential): the same seed gives the same order.
    public var seed: UInt64?

    public init(kind: Kind, seed: UInt64? = nil) {
        self.kind = kind
        self.seed = kind == .sequential ? nil : seed
    }

    public static let sequential = RunOrder(kind: .sequential)
    public static func interleaved(seed: UInt64) -> RunOrder { RunOrder(kind: .interleaved, seed: seed) }

    /// "interleaved (seed 42)" or "sequential".
    public var description: String { seed.map { "\(kind.rawValue) (seed \($0))" } ?? kind.rawValue }
}

/// Which kvmbench produced a document.
public struct ToolInfo: Codable, Sendable, Equatable {
    public var version: String
    public var gitCommit: String?
    public init(version: String, gitCommit: String?) {
        self.version = version
        self.gitCommit = gitCommit
    }
    enum CodingKeys: String, CodingKey { case version, gitCommit = "git_commit" }
}

/// The suite definition recorded with its results.
public struct SuiteRecord: Codable, Sendable, Equatable {
    public var name: String
    /// The suite file's text after overrides, so the run can be repeated exactly.
    public var definition: String
    public init(name: String, definition: String) {
        self.name = name
        self.definition = definition
    }
}
