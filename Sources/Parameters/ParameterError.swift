/// Bad input: what was wrong, what is allowed, and (where it matters) this host's limit.
/// The CLI prints it on one line and exits with the usage status before any VM is created.
public struct ParameterError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
