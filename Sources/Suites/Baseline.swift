import Foundation
import Pipeline
import Results
import Statistics

/// The small header that makes a result document a baseline. A baseline file is the result document
/// itself (same fields, same schema) with one more top-level field, `baseline`, holding this; so
/// every tool that reads result documents reads baselines, and the document keeps its host
/// fingerprint and kvmbench version.
public struct BaselineHeader: Codable, Sendable, Equatable {
    public var name: String
    public var created: Date
    /// The result file it was saved from ("-" when saved straight from a run).
    public var source: String
    /// For reference baselines transcribed from published figures: where they come from.
    public var reference: ReferenceInfo?
    /// Why this run was accepted as the baseline (`--reason`).
    public var reason: String?
    /// The kernel the run measured: its release (from the host fingerprint) and, where given
    /// (`--kernel-commit`), the commit it was built from.
    public var kernelRelease: String?
    public var kernelCommit: String?
    /// The kvmbench that saved the baseline ("0.1.0 (abc123def456)").
    public var kvmbenchVersion: String?
    /// Who saved it ($USER), when known.
    public var acceptedBy: String?
    /// The checks `--force` overrode (interrupted run, failed cases, busy host, noisy gated metrics).
    public var forced: [String]?

    public init(name: String, created: Date, source: String, reference: ReferenceInfo? = nil,
                reason: String? = nil, kernelRelease: String? = nil, kernelCommit: String? = nil,
                kvmbenchVersion: String? = nil, acceptedBy: String? = nil, forced: [String]? = nil) {
        self.name = name
        self.created = created
        self.source = source
        self.reference = reference
        self.reason = reason
        self.kernelRelease = kernelRelease
        self.kernelCommit = kernelCommit
        self.kvmbenchVersion = kvmbenchVersion
        self.acceptedBy = acceptedBy
        self.forced = forced
    }

    enum CodingKeys: String, CodingKey {
        case name, created, source, reference, reason, kernelRelease = "kernel_release", kernelCommit = "kernel_commit"
        case kvmbenchVersion = "kvmbench_version", acceptedBy = "accepted_by", forced
    }
}

/// What the person saving a baseline says about it, and whether problems are overridden.
public struct BaselineAcceptance: Sendable, Equatable {
    public var reason: String?
    public var kernelCommit: String?
    /// The kvmbench doing the saving.
    public var tool: ToolInfo?
    public var acceptedBy: String?
    /// Save despite `BaselineStore.trustProblems`.
    public var force: Bool

    public init(reason: String? = nil, kernelCommit: String? = nil, tool: ToolInfo? = nil,
                acceptedBy: String? = ProcessInfo.processInfo.environment["USER"], force: Bool = false) {
        self.reason = reason
        self.kernelCommit = kernelCommit
        self.tool = tool
        self.acceptedBy = acceptedBy
        self.force = force
    }
}

/// Where a reference baseline's figures come from, and how its cases match measured ones.
public struct ReferenceInfo: Codable, Sendable, Equatable {
    /// The published document (title of the cover letter or paper).
    public var document: String
    /// What it was transcribed from, by name: the mail or paper (title, author, list, date) or a URL;
    /// never a path on one machine.
    public var sourceFile: String
    public var hardware: String
    public var kernel: String
    /// The test and parameters as the document states them.
    public var parameters: String
    /// Which side of the published comparison this is ("before", "after" or "result").
    public var side: String
    /// Per scenario, the parameters a measured case must share with a reference case to be compared
    /// with it (the loose matching rule); a scenario not listed matches on the scenario alone.
    public var match: [String: [String]]
    public var notes: [String]

    public init(document: String, sourceFile: String, hardware: String, kernel: String, parameters: String,
                side: String, match: [String: [String]], notes: [String] = []) {
        self.document = document
        self.sourceFile = sourceFile
        self.hardware = hardware
        self.kernel = kernel
        self.parameters = parameters
        self.side = side
        self.match = match
        self.notes = notes
    }

    enum CodingKeys: String, CodingKey {
        case document, sourceFile = "source_file", hardware, kernel, parameters, side, match, notes
    }
}

/// A result document with its baseline header, encoded as one JSON object.
public struct BaselineFile: Encodable, Sendable {
    public var header: BaselineHeader
    public var document: ResultDocument

    public init(header: BaselineHeader, document: ResultDocument) {
        self.header = header
        self.document = document
    }

    enum CodingKeys: String, CodingKey { case baseline }

    public func encode(to encoder: any Encoder) throws {
        try document.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(header, forKey: .baseline)
    }

    public func encoded() throws -> Data { try ResultDocument.makeEncoder().encode(self) }
}

/// The baselines under a directory (`Baselines/` by default): `NAME.json`, where NAME is letters,
/// digits, '.', '_' and '-', optionally under `reference/` (published figures, read-only for kvmbench).
public struct BaselineStore: Sendable {
    public var directory: URL

    public init(directory: URL = ProjectPaths.baselines()) { self.directory = directory }

    public static let referencePrefix = "reference/"

    /// Checks a baseline name: no '/' except the `reference/` prefix, no "..", no leading '.'.
    public static func validate(_ name: String) throws(SuiteError) {
        let bare = name.hasPrefix(referencePrefix) ? String(name.dropFirst(referencePrefix.count)) : name
        guard !name.contains(".."), SuiteNames.isValid(bare) else {
            throw .usage("invalid baseline name '\(name)': use letters, digits, '.', '_' and '-' (no '/', no '..', not starting with '.'); 'reference/NAME' names a reference baseline")
        }
    }

    public func url(of name: String) -> URL { directory.appendingPathComponent(name + ".json") }

    public func exists(_ name: String) -> Bool {
        (try? Self.validate(name)) != nil && FileManager.default.fileExists(atPath: url(of: name).path)
    }

    /// Every baseline name, sorted (reference ones included).
    public var names: [String] {
        var out: [String] = []
        let manager = FileManager.default
        for sub in ["", Self.referencePrefix] {
            let folder = directory.appendingPathComponent(sub)
            for file in (try? manager.contentsOfDirectory(atPath: folder.path)) ?? [] where file.hasSuffix(".json") && !file.hasPrefix(".") {
                out.append(sub + String(file.dropLast(5)))
            }
        }
        return out.sorted()
    }

    /// Reads the baseline `name`; a missing one lists the known names.
    public func load(_ name: String) throws(SuiteError) -> LoadedDocument {
        try Self.validate(name)
        guard FileManager.default.fileExists(atPath: url(of: name).path) else {
            let known = names
            throw .baseline("no baseline named '\(name)' in \(directory.path); baselines: \(known.isEmpty ? "none" : known.joined(separator: ", "))")
        }
        var loaded = try DocumentLoader.load(url(of: name), label: name)
        if loaded.baseline == nil {
            loaded.baseline = BaselineHeader(name: name, created: loaded.document.startedAt, source: url(of: name).path)
        }
        return loaded
    }

    /// Why `document` should not become a baseline, one line each: an interrupted run, failed cases,
    /// cases measured on a busy host (median `host_busy` above the suite's `max_host_busy`), gated
    /// metrics whose robust spread is above the suite's `max_cv`. The policy is the document's
    /// recorded suite's (it is the run's own suite), else defaults.
    public static func trustProblems(_ document: ResultDocument) -> [String] {
        var warnings: [String] = []
        let loaded = LoadedDocument(document: document, baseline: nil, label: "the run", url: URL(fileURLWithPath: "/dev/null"))
        let (policy, _) = SuiteComparison.policyFor(sides: [loaded], warnings: &warnings)
        var problems: [String] = []
        if document.interrupted { problems.append("interrupted: the run stopped before every case had run") }
        if document.host.emulated == true {
            problems.append("emulated CPU (\(document.host.cpuModel), \(document.host.mmuDescription)): its timings prove behaviour, not performance")
        }
        let failed = document.cases.filter { $0.status == .failed }
        if !failed.isEmpty {
            problems.append("failed cases: " + failed.map { "\($0.key) (\($0.reason ?? "no reason given"))" }.joined(separator: "; "))
        }
        let busy = document.cases.compactMap { item -> String? in
            guard let load = item.metric(named: HostLoad.metricName).map({ Summary.median(of: $0.samples) }),
                  load > policy.maxHostBusy * 100 else { return nil }
            return "\(item.key) (\(SuiteComparison.percent(load)))"
        }
        if !busy.isEmpty {
            problems.append("busy host: other processes used more than \(SuiteComparison.percent(policy.maxHostBusy * 100)) of the CPUs during " + busy.joined(separator: ", "))
        }
        let noisy = document.cases.filter { $0.status == .ok }.flatMap { item in
            item.metrics.filter { metric in
                policy.gates(scenario: item.scenario, metric: metric.name, scenarioGate: metric.gate)
                    && metric.samples.count >= 2 && Spread.relativeMAD(of: metric.samples) > policy.maxCV
            }.map { "\(item.key) \($0.name) (\(String(format: "%.0f%%", Spread.relativeMAD(of: $0.samples) * 100)))" }
        }
        if !noisy.isEmpty {
            problems.append("noisy gated metrics (robust spread above \(SuiteComparison.percent(policy.maxCV * 100))): " + noisy.joined(separator: ", "))
        }
        return problems
    }

    /// Saves `document` as baseline `name`. Refuses reference names, (unless `replace`) an existing
    /// baseline, a run that measured nothing, and (unless `acceptance.force`) a run with
    /// `trustProblems`; records the reason, kernel and kvmbench in the header. Writes atomically, so
    /// a failure leaves the old file as it was.
    @discardableResult
    public func save(_ document: ResultDocument, as name: String, source: String, replace: Bool = false,
                     created: Date = Date(), acceptance: BaselineAcceptance = BaselineAcceptance()) throws(SuiteError) -> URL {
        try checkSavable(name, replace: replace)
        guard document.cases.contains(where: { $0.status == .ok }) else {
            throw .usage("\(source): no case measured anything (every case is unsupported or failed); nothing to save as a baseline")
        }
        let problems = Self.trustProblems(document)
        if !problems.isEmpty, !acceptance.force {
            throw .usage("\(source) is not a baseline to trust: " + problems.joined(separator: "; ") + " (rerun, or --force to save it anyway)")
        }
        let tool = acceptance.tool.map { $0.version + ($0.gitCommit.map { " (\($0))" } ?? "") }
        let header = BaselineHeader(name: name, created: created, source: source, reason: acceptance.reason,
                                    kernelRelease: document.host.kernelRelease, kernelCommit: acceptance.kernelCommit,
                                    kvmbenchVersion: tool, acceptedBy: acceptance.acceptedBy,
                                    forced: problems.isEmpty ? nil : problems)
        let file = BaselineFile(header: header, document: document)
        do {
            try AtomicFile.write(try file.encoded(), to: url(of: name))
        } catch {
            throw .other(ErrorText.failed("write the baseline", path: url(of: name).path, error))
        }
        return url(of: name)
    }

    /// Refuses a baseline from an emulated CPU unless `force`: its timings (QEMU's software
    /// emulation runs guests ~100x slower than hardware) prove behaviour, not performance.
    public static func checkHost(_ host: HostFingerprint, force: Bool, source: String) throws(SuiteError) {
        guard host.emulated == true, !force else { return }
        throw .usage("\(source): measured on an emulated CPU (\(host.cpuModel), \(host.mmuDescription)): its timings prove behaviour, not performance, so it makes no baseline; use --force to save it anyway")
    }

    /// Whether `name` may be saved: valid, not a reference name, and not existing unless `replace`.
    /// Call it before a long run so that a bad name fails at once.
    public func checkSavable(_ name: String, replace: Bool) throws(SuiteError) {
        try Self.validate(name)
        guard !name.hasPrefix(Self.referencePrefix) else {
            throw .usage("'\(name)': reference baselines hold published figures and are not written by kvmbench; choose a name without 'reference/'")
        }
        if !replace, FileManager.default.fileExists(atPath: url(of: name).path) {
            throw .usage("baseline '\(name)' already exists (\(url(of: name).path)); use --replace to overwrite it")
        }
    }
}

/// A BEFORE or AFTER argument of `compare` / `gate`: a path to an existing file, else a baseline name.
public enum DocumentArgument {
    public static func load(_ argument: String, store: BaselineStore) throws(SuiteError) -> LoadedDocument {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory), !isDirectory.boolValue {
            return try DocumentLoader.load(URL(fileURLWithPath: argument), label: argument)
        }
        if isDirectory.boolValue { throw .baseline("\(argument) is a directory; give a result file or a baseline name") }
        if (try? BaselineStore.validate(argument)) == nil || argument.hasSuffix(".json") {
            throw .baseline("\(argument): no such file, and not a baseline name (baselines: \(store.names.joined(separator: ", ")))")
        }
        return try store.load(argument)
    }
}
