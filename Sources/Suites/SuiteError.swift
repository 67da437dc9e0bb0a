/// A problem with a suite, a baseline or a result file, as one line for the user. `kind` decides the
/// exit status the command line gives it.
public struct SuiteError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Bad input on the command line or in a suite file (exit 64).
        case usage
        /// A baseline or result that is missing, unreadable, from a newer kvmbench, or cannot be
        /// compared with the other side (exit 4).
        case baseline
        /// Anything else, such as a file that cannot be written (exit 1).
        case other
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    static func usage(_ message: String) -> SuiteError { SuiteError(.usage, message) }
    static func baseline(_ message: String) -> SuiteError { SuiteError(.baseline, message) }
    static func other(_ message: String) -> SuiteError { SuiteError(.other, message) }
}
