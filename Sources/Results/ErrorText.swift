import Foundation

/// Turns any error into text a user reads in one line: never a Foundation or Swift type dump
/// ("Error Domain=NSCocoaErrorDomain Code=4 ..."), always what went wrong in words, and (through
/// `failed(_:path:_:)`) what was being done, on which path, and what to do about it.
public enum ErrorText {
    /// "cannot write the HTML report /proc/x.html: no such file or directory; choose a path in a
    /// directory that exists and is writable".
    public static func failed(_ doing: String, path: String, _ error: any Error) -> String {
        let advice: String? = errnoCode(of: error).flatMap { hint(for: $0, doing: doing) }
        return "cannot \(doing) \(path): \(describe(error))" + (advice.map { "; " + $0 } ?? "")
    }

    /// What `error` says, as one line of words.
    public static func describe(_ error: any Error) -> String {
        if let error = error as? DecodingError { return describe(decoding: error) }
        if let error = error as? EncodingError {
            if case let .invalidValue(_, context) = error { return "cannot encode the value at \(jsonPath(context.codingPath)): \(context.debugDescription)" }
        }
        if let code = errnoCode(of: error) { return String(cString: strerror(code)).lowercased() }
        let nsError = error as NSError
        if nsError.domain == NSCocoaErrorDomain {
            if let custom = nsError.userInfo[NSLocalizedDescriptionKey] as? String { return oneLine(custom) }
            return cocoaReason(nsError.code)
        }
        return oneLine(String(describing: error))
    }

    /// The errno behind a Foundation or POSIX error, when there is one.
    public static func errnoCode(of error: any Error) -> Int32? {
        if let posix = error as? POSIXError { return posix.code.rawValue }
        let nsError = error as NSError
        if nsError.domain == NSPOSIXErrorDomain { return Int32(nsError.code) }
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return Int32(underlying.code)
        }
        if nsError.domain == NSCocoaErrorDomain {
            switch nsError.code {
            case CocoaError.fileNoSuchFile.rawValue, CocoaError.fileReadNoSuchFile.rawValue: return ENOENT
            case CocoaError.fileReadNoPermission.rawValue, CocoaError.fileWriteNoPermission.rawValue: return EACCES
            case CocoaError.fileWriteVolumeReadOnly.rawValue: return EROFS
            case CocoaError.fileWriteOutOfSpace.rawValue: return ENOSPC
            default: return nil
            }
        }
        return nil
    }

    /// What to do about errno `code` while `doing` something to a file.
    static func hint(for code: Int32, doing: String) -> String? {
        switch code {
        case ENOENT: return "check that the path and its directory exist (and that the directory is one files can be created in)"
        case EACCES, EPERM: return "check the permissions, run as a user who may, or choose another path"
        case EROFS: return "the file system is read-only; choose a path on a writable one"
        case ENOSPC, EDQUOT: return "the file system is full; free some space or choose another path"
        case EISDIR: return "it is a directory; give a file name"
        case ENOTDIR: return "a part of the path is not a directory"
        case ENAMETOOLONG: return "use a shorter path"
        default: return nil
        }
    }

    static func cocoaReason(_ code: Int) -> String {
        switch code {
        case CocoaError.fileReadCorruptFile.rawValue: return "the file is not in the expected format"
        case CocoaError.fileReadInapplicableStringEncoding.rawValue: return "the file is not UTF-8 text"
        case CocoaError.fileReadTooLarge.rawValue: return "the file is too large"
        case CocoaError.fileWriteFileExists.rawValue: return "the file exists already"
        case CocoaError.fileWriteInvalidFileName.rawValue: return "the file name is not valid"
        case CocoaError.fileWriteInapplicableStringEncoding.rawValue: return "the text cannot be written in that encoding"
        default: return "the file operation failed (Foundation error \(code))"
        }
    }

    /// A DecodingError as "at cases[0].metrics[1].samples[2]: expected a number (...)".
    public static func describe(decoding error: DecodingError) -> String {
        switch error {
        case let .typeMismatch(type, context):
            return "at \(jsonPath(context.codingPath)): expected \(typeName(type)) (\(oneLine(context.debugDescription)))"
        case let .valueNotFound(type, context):
            return "at \(jsonPath(context.codingPath)): expected \(typeName(type)), found null"
        case let .keyNotFound(key, context):
            return "at \(jsonPath(context.codingPath + [key])): required field '\(key.stringValue)' is missing"
        case let .dataCorrupted(context):
            return "at \(jsonPath(context.codingPath)): \(oneLine(context.debugDescription))"
        @unknown default:
            return "the document does not have the expected shape"
        }
    }

    /// "cases[0].metrics[1].samples", or "the top level".
    public static func jsonPath(_ path: [any CodingKey]) -> String {
        var out = ""
        for key in path {
            if let index = key.intValue { out += "[\(index)]" } else { out += (out.isEmpty ? "" : ".") + key.stringValue }
        }
        return out.isEmpty ? "the top level" : out
    }

    public static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Double.Type, is Float.Type: return "a number"
        case is Int.Type, is Int64.Type, is UInt64.Type, is Int32.Type, is UInt32.Type: return "a whole number"
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        default:
            let name = "\(type)"
            if name.hasPrefix("Array") { return "a list" }
            if name.hasPrefix("Dictionary") { return "an object" }
            if name.hasPrefix("Optional") { return "a value" }
            return "an object"
        }
    }

    /// `text` with its line breaks and runs of blanks folded into single spaces.
    public static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: { $0.isNewline || $0 == "\t" }).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " ")
    }
}
