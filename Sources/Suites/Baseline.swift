import Foundation
import Results

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

    public init(name: String, created: Date, source: String, reference: ReferenceInfo? = nil) {
        self.name = name
        self.created = created
        self.source = source
        self.reference = reference
    }
}

/// Where a reference baseline's figures come from, and how its cases match measured ones.
public struct ReferenceInfo: Codable, Sendable, Equatable {
    /// The published document (title of the cover letter or paper).
    public var document: String
    /// The file under /work/shared/seeds (or URL) it was transcribed from.
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

    /// Saves `document` as baseline `name`. Refuses reference names, interrupted runs and (unless
    /// `replace`) an existing baseline; writes atomically, so a failure leaves the old file as it was.
    @discardableResult
    public func save(_ document: ResultDocument, as name: String, source: String, replace: Bool = false,
                     created: Date = Date()) throws(SuiteError) -> URL {
        try checkSavable(name, replace: replace)
        guard !document.interrupted else {
            throw .usage("\(source): the run was interrupted before every case had run; a baseline needs a complete run")
        }
        guard document.cases.contains(where: { $0.status == .ok }) else {
            throw .usage("\(source): no case measured anything (every case is unsupported or failed); nothing to save as a baseline")
        }
        let file = BaselineFile(header: BaselineHeader(name: name, created: created, source: source), document: document)
        do {
            try AtomicFile.write(try file.encoded(), to: url(of: name))
        } catch {
            throw .other(ErrorText.failed("write the baseline", path: url(of: name).path, error))
        }
        return url(of: name)
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
