import Foundation
import Results

/// A result document read from disk, with its baseline header when it is a baseline.
public struct LoadedDocument: Sendable {
    public var document: ResultDocument
    public var baseline: BaselineHeader?
    /// What the user named: a baseline name or a file path.
    public var label: String
    public var url: URL

    public init(document: ResultDocument, baseline: BaselineHeader?, label: String, url: URL) {
        self.document = document
        self.baseline = baseline
        self.label = label
        self.url = url
    }

    /// True for a reference baseline (published figures from other hardware).
    public var isReference: Bool { baseline?.reference != nil }
}

/// Reads result documents and baselines, turning every way they can be wrong into one clear line:
/// missing, empty, not JSON (with line, column and byte offset), from a newer kvmbench (schema
/// version), or not shaped like a result document (with the JSON path of the bad value).
///
/// `load` brings the document up to the current declarations (`CurrentDeclarations`: parameters
/// recorded before they existed read as their defaults, renamed metrics under their current
/// names), so that documents written by older kvmbench versions match current cases; the file
/// itself is never changed. `asStored: true` reads it exactly as written (to save it elsewhere).
public enum DocumentLoader {
    public static func load(_ url: URL, label: String? = nil, asStored: Bool = false) throws(SuiteError) -> LoadedDocument {
        let name = label ?? url.path
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            let reason = FileManager.default.fileExists(atPath: url.path) ? "cannot read it (\(ErrorText.describe(error)))" : "no such file"
            throw .baseline("\(url.path): \(reason)")
        }
        let (document, header) = try decode(data, path: url.path)
        let loaded = LoadedDocument(document: document, baseline: header, label: name, url: url)
        return asStored ? loaded : CurrentDeclarations.upgrade(loaded)
    }

    /// Decodes a result document (and the baseline header, if any) from `data`; `path` names it in errors.
    public static func decode(_ data: Data, path: String) throws(SuiteError) -> (ResultDocument, BaselineHeader?) {
        guard !data.allSatisfy({ [0x20, 0x09, 0x0A, 0x0D].contains($0) }) else {
            throw .baseline("\(path): the file is empty (truncated?)")
        }
        if let problem = JSONSyntaxCheck.firstProblem(in: data) {
            throw .baseline("\(path): not valid JSON at \(problem)")
        }
        let decoder = ResultDocument.makeDecoder()
        struct Probe: Decodable {
            var schemaVersion: Int?
            enum CodingKeys: String, CodingKey { case schemaVersion = "schema_version" }
        }
        let probe: Probe
        do {
            probe = try decoder.decode(Probe.self, from: data)
        } catch {
            throw .baseline("\(path): not a kvmbench result document (the top level must be a JSON object): \(describe(error))")
        }
        guard let version = probe.schemaVersion else {
            throw .baseline("\(path): not a kvmbench result document: it has no schema_version")
        }
        guard version <= ResultDocument.currentSchemaVersion else {
            throw .baseline("\(path): written by a newer kvmbench (schema_version \(version); this kvmbench reads up to \(ResultDocument.currentSchemaVersion)); upgrade kvmbench to read it")
        }
        guard version >= 1 else { throw .baseline("\(path): schema_version \(version) is not a valid version") }
        do {
            let document = try decoder.decode(ResultDocument.self, from: data)
            let wrapper = try decoder.decode(BaselineWrapper.self, from: data)
            return (document, wrapper.baseline)
        } catch {
            throw .baseline("\(path): not a valid kvmbench result document: \(describe(error))")
        }
    }

    struct BaselineWrapper: Decodable { var baseline: BaselineHeader? }

    /// A DecodingError as "at cases[0].metrics[1].samples[2]: expected a number, found a string".
    static func describe(_ error: any Error) -> String { ErrorText.describe(error) }
}
