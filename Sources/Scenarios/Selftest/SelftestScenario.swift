import Harness
import Foundation
import Selftests

/// A KVM selftest binary (tools/testing/selftests/kvm) run as a kvmbench case: every repetition
/// runs the binary once, and every phase it prints becomes a metric (see `SelftestParser`), plus
/// `wall_time`, the run's wall-clock time as kvmbench saw it (gated only for a selftest that
/// times nothing itself, memslot_modification_stress_test).
///
/// Given parameters: `path` (the binary) and `args` (its arguments, split at spaces; quotes keep
/// spaces). Recorded parameters: `test` (the binary's name) and `args`, so runs of two builds of
/// the same selftest compare; the command line and the binary's size and date are notes.
///
/// - The binary must exist and be executable (else bad input, before anything runs).
/// - A binary kvmbench cannot read, output that does not parse, a non-zero exit, a signal or a run
///   longer than `--case-timeout` fails the case, with the reason and the last lines of its output.
///   A selftest that skips itself (kselftest status 4) makes the case unsupported, with its reason.
/// - KVM binary stats: the selftest's VM and vCPU stats fds are its own; the host-wide totals of
///   debugfs (`HostKVMStats`) are recorded around each run when debugfs is mounted.
/// - On a PVM host the selftests' CPL0 guests are emulated: the case carries that notice.
public struct SelftestScenario: Scenario {
    /// `kvmbench selftest` runs it, not `kvmbench run`.
    public static let hasRunCommand = false
    public static let name = "selftest"
    public static let summary = "a KVM selftest binary (tools/testing/selftests/kvm): each phase it prints becomes a metric"
    /// A selftest brings its own guest: its flags go in `args`.
    public static let parameterTable = ParameterTable([path, args])
    public static let path = Parameter<String>.text(
        "path", help: "the selftest binary (\(SelftestKind.names))", default: nil,
        allowed: "an executable file", valueName: "file", sweep: .whole)
    public static let args = Parameter<String>.text(
        "args", help: "the selftest's own arguments, e.g. '-v 1 -b 64M -i 3'", default: "",
        allowed: "shell-like words", valueName: "arguments", sweep: .whole)

    public let path: String
    public let arguments: [String]
    public let kind: SelftestKind?

    public init(parameters p: ParameterSet, limits: HostLimits) throws(ParameterError) {
        let unknown = p.values.keys.filter { Self.parameterTable[$0] == nil }.sorted()
        if !unknown.isEmpty {
            throw ParameterError("selftest cases take only path and args (the selftest's own flags go in args); not: \(unknown.joined(separator: ", "))")
        }
        guard let path = try p.given(Self.path)?.trimmingCharacters(in: .whitespaces), !path.isEmpty else {
            throw ParameterError("a selftest case needs the path of the selftest binary (\(SelftestKind.names))")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw ParameterError("selftest \(path): no such file (build it from tools/testing/selftests/kvm; see docs/reports-and-labs.md)")
        }
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw ParameterError("selftest \(path): not executable")
        }
        self.path = path
        arguments = try Self.split(try p.value(Self.args))
        kind = SelftestKind(path: path)
    }

    public var test: String { path.split(separator: "/").last.map(String.init) ?? path }

    public var parameters: [String: String] {
        ["test": test, "args": arguments.map(Self.quoted).joined(separator: " ")]
    }

    public var notices: [String] { CPL0Emulation.notice().map { [$0] } ?? [] }

    /// The selftest runs for at most the context's `--case-timeout`.
    public func measure(in context: CaseContext) throws -> Sample {
        let timeout = context.timeoutSeconds
        let before = HostKVMStats.snapshot()
        let run = try SelftestProcess.run(path: path, arguments: arguments, timeout: timeout)
        let after = HostKVMStats.snapshot()
        guard let kind else {
            throw SelftestFailure("unknown selftest '\(test)': kvmbench reads \(SelftestKind.names)", run)
        }
        if run.timedOut { throw SelftestFailure("timed out after \(Int(timeout)) s (--case-timeout) and was killed", run) }
        if let signal = run.signal {
            throw SelftestFailure("killed by signal \(signal) (\(String(cString: strsignal(signal))))", run)
        }
        let parsed: Result<SelftestReport, SelftestParseError> = Result { () throws(SelftestParseError) in
            try SelftestParser.parse(run.output, kind: kind)
        }
        if run.exitStatus == SelftestRun.skipStatus {
            let reason = (try? parsed.get())?.skipReason ?? "exit status 4 (KSFT_SKIP)"
            throw ScenarioUnsupported("\(test) skipped itself: \(reason)")
        }
        if let status = run.exitStatus, status != 0 {
            throw SelftestFailure("exited with status \(status)" + Self.assertion(in: run.output).map { ": \($0)" }.orEmpty, run)
        }
        let report: SelftestReport
        switch parsed {
        case .success(let value): report = value
        case .failure(let error): throw SelftestFailure("its output does not parse: \(error.message)", run)
        }
        if let reason = report.skipReason { throw ScenarioUnsupported("\(test) skipped itself: \(reason)") }
        var sample = Sample()
        for figure in report.figures {
            sample.add(Self.metrics.figure(figure), figure.value)
        }
        sample.add(kind.timesNothing ? Self.metrics.wallTime : Self.metrics.wallTime.informational, run.seconds)
        sample.notes.append("command: " + ([path] + arguments).map(Self.quoted).joined(separator: " "))
        sample.notes.append("binary: " + Self.identity(of: path))
        sample.notes.append(report.version.map { "selftest version: \($0)" } ?? "selftest version: not printed by \(test)")
        sample.notes += report.notes
        if let before, let after {
            sample.kvmStats = HostKVMStats.delta(before: before, after: after)
            sample.notes.append("KVM stats: host-wide totals of \(HostKVMStats.directory) (every VM of the host), before and after the run")
        } else {
            sample.notes.append(HostKVMStats.unavailableNote)
        }
        return sample
    }

    /// The first line of a TEST_ASSERT report ("dirty_log_perf_test.c:123: expr").
    static func assertion(in output: String) -> String? {
        let lines = output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let start = lines.firstIndex(of: "==== Test Assertion Failure ===="), start + 1 < lines.count else { return nil }
        return "Test Assertion Failure: " + lines[start + 1]
    }

    /// "1234567 bytes, modified 2026-12-01T08:50:00Z".
    static func identity(of path: String) -> String {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        let size = (attributes?[.size] as? NSNumber)?.intValue
        let date = attributes?[.modificationDate] as? Date
        let formatter = ISO8601DateFormatter()
        return path + " (" + [size.map { "\($0) bytes" }, date.map { "modified " + formatter.string(from: $0) }]
            .compactMap { $0 }.joined(separator: ", ") + ")"
    }

    /// Splits arguments at spaces; single or double quotes keep spaces inside one argument.
    public static func split(_ text: String) throws(ParameterError) -> [String] {
        var out: [String] = []
        var current = ""
        var quote: Character?
        var started = false
        for character in text {
            if let open = quote {
                if character == open { quote = nil } else { current.append(character) }
            } else if character == "'" || character == "\"" {
                quote = character
                started = true
            } else if character == " " || character == "\t" {
                if started || !current.isEmpty { out.append(current) }
                current = ""
                started = false
            } else {
                current.append(character)
            }
        }
        if quote != nil { throw ParameterError("--args \(text): a quote is not closed") }
        if started || !current.isEmpty { out.append(current) }
        return out
    }

    /// An argument as a shell would need it written: quoted when it holds a space or a quote.
    public static func quoted(_ argument: String) -> String {
        guard argument.isEmpty || argument.contains(where: { " \t'\"\\$`".contains($0) }) else { return argument }
        return "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// A selftest run that went wrong: the reason, then the last lines of what it printed.
public struct SelftestFailure: Error, CustomStringConvertible, Sendable {
    public var reason: String
    public var tail: String
    init(_ reason: String, _ run: SelftestRun) {
        self.reason = reason
        tail = run.tail()
    }
    public var description: String {
        tail.isEmpty ? "\(reason); it printed nothing" : "\(reason); the last lines it printed:\n\(tail)"
    }
}

private extension Optional where Wrapped == String {
    var orEmpty: String { self ?? "" }
}
