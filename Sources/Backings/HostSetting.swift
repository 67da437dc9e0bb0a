import Foundation
import Glibc

/// A sysfs or procfs setting one side of an A/B run sets (`kvmbench ab --a-set PATH=VALUE`): THP's
/// `enabled` or `defrag`, a writable KVM module parameter, a vm sysctl.
///
/// Its value before is recorded in the host-change ledger before it is written, so it is restored
/// after each block of its side, on an error, on SIGINT/SIGTERM and, after a SIGKILL, by the next
/// kvmbench. A file that lists its choices with the current one in brackets ("always [madvise]
/// never") takes one of those words; its value is the bracketed word.
public struct HostSetting: Sendable, Equatable, CustomStringConvertible {
    public let path: String
    public let value: String

    /// Where a setting may live: the kernel's own files, never an arbitrary file.
    static let allowedRoots = ["/sys/", "/proc/sys/"]

    public struct Refusal: Error, CustomStringConvertible, Sendable {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// Parses PATH=VALUE (the path must be absolute, the value not empty).
    public init(parsing text: String) throws(Refusal) {
        guard let equals = text.firstIndex(of: "=") else {
            throw Refusal("'\(text)' is not PATH=VALUE (for example /sys/kernel/mm/transparent_hugepage/enabled=never)")
        }
        let path = String(text[..<equals]), value = String(text[text.index(after: equals)...])
        guard path.hasPrefix("/"), !value.isEmpty else {
            throw Refusal("'\(text)' is not PATH=VALUE with an absolute path and a value")
        }
        self.path = URL(fileURLWithPath: path).standardizedFileURL.path
        self.value = value
    }

    public var description: String { "\(path)=\(value)" }

    /// The value in `path` now: the bracketed choice of a choice file, else its text trimmed; nil
    /// when it cannot be read.
    public static func current(of path: String) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        if let open = text.firstIndex(of: "["), let close = text[open...].firstIndex(of: "]") {
            return String(text[text.index(after: open)..<close])
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The words a choice file offers ("always madvise never"), nil for a plain value file.
    public static func choices(of path: String) -> [String]? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), text.contains("[") else { return nil }
        return text.split(whereSeparator: \.isWhitespace).map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "[]")) }
    }

    /// Why this setting cannot be made here (checked before anything runs), or nil.
    public func problem() -> String? {
        guard Self.allowedRoots.contains(where: { path.hasPrefix($0) }) else {
            return "\(path) is not under \(Self.allowedRoots.joined(separator: " or ")): only kernel settings can be an A/B side (use --a-setup/--b-setup for anything else)"
        }
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            return "\(path) does not exist here (or is not a file)"
        }
        guard Self.current(of: path) != nil else { return "\(path) cannot be read" }
        guard access(path, W_OK) == 0 else {
            return "\(path) is not writable (\(getuid() == 0 ? "read-only on this kernel" : "needs root"))"
        }
        if let choices = Self.choices(of: path), !choices.contains(value) {
            return "\(path) takes one of \(choices.joined(separator: ", ")), not '\(value)'"
        }
        return nil
    }

    /// Sets the value, recorded in the ledger first; the value is read back to check the kernel took it.
    public func apply() throws(Refusal) -> AppliedHostSetting {
        if let problem = problem() { throw Refusal(problem) }
        guard let before = Self.current(of: path) else { throw Refusal("\(path) cannot be read") }
        var change = HostChange(kind: .setting, subject: path, path: path, before: 0, amount: 0)
        change.text = before
        do {
            try HostChangeLedger.transaction { ledger throws(HostChangeLedger.Failure) in try ledger.record(change) }
        } catch {
            throw Refusal("cannot record \(path) in the host-change ledger: \(error)")
        }
        HostChangeLedger.restoreOwnAtExit
        let applied = AppliedHostSetting(changeID: change.id)
        guard MemoryCgroupChange.write(value + "\n", to: path) else {
            let reason = String(cString: strerror(errno))
            applied.restore()
            throw Refusal("the kernel refused \(value) for \(path): \(reason)")
        }
        guard let now = Self.current(of: path), now == value else {
            applied.restore()
            throw Refusal("\(path) reads '\(Self.current(of: path) ?? "?")' after writing '\(value)'")
        }
        return applied
    }

    /// Undoing a `setting` change (see `HostChange.undo`).
    static func undo(_ change: HostChange) throws(HostChangeLedger.Failure) -> String {
        guard let before = change.text else { throw .init("\(change.path): no value before was recorded") }
        let now = current(of: change.path)
        if now != before {
            guard MemoryCgroupChange.write(before + "\n", to: change.path), current(of: change.path) == before else {
                throw .init("cannot write '\(before)' back to \(change.path): \(String(cString: strerror(errno))) (needs root); run `kvmbench restore` as root")
            }
        }
        return "\(change.path) \(now ?? "?") -> \(before)"
    }
}

/// A setting that is in effect; `restore()` writes back what it replaced.
public struct AppliedHostSetting: Sendable {
    let changeID: String

    /// Writes the value before back through the ledger. Idempotent.
    public func restore() {
        if let line = HostChangeLedger.restore(including: { $0.id == changeID }, action: nil) {
            FileHandle.standardError.write(Data("kvmbench: \(line)\n".utf8))
        }
    }
}
