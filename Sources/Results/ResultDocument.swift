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
        case schemaVersion = "schema_version", kvmbench, host, suite
        case startedAt = "started_at", finishedAt = "finished_at", interrupted, cases
    }
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
