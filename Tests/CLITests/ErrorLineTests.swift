import Foundation
import Testing

/// Text that must never reach a user: Foundation and Swift error dumps.
private let dumps = ["Error Domain", "NSCocoaErrorDomain", "Code=", "UserInfo", "DecodingError", "CocoaError",
                     "NSUnderlyingError", "Swift.", "Foundation."]

/// The kvmbench checkout the tests were built in (the first ancestor of the executable with Package.swift).
private var checkout: URL {
    var directory = CLI.executable.deletingLastPathComponent()
    while directory.path != "/" {
        if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) { return directory }
        directory = directory.deletingLastPathComponent()
    }
    return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
}

/// A result document that exists in every checkout.
private var someResult: URL {
    let directory = checkout.appendingPathComponent("Baselines/reference")
    let name = (try? FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }.sorted().first) ?? "missing.json"
    return directory.appendingPathComponent(name)
}

/// One class of failure each: what kvmbench was doing, on which path, and what to do, in one line.
@Suite("command line: every error is one line in words")
struct ErrorLineTests {
    private func expectOneLine(_ outcome: CLI.Outcome, status: Int32, contains phrases: [String], _ what: String) {
        #expect(outcome.status == status, "\(what): status \(outcome.status), stderr \(outcome.stderr)")
        let lines = outcome.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(what): one line expected: \(outcome.stderr)")
        #expect(outcome.stderr.hasPrefix("kvmbench: "), "\(what): \(outcome.stderr)")
        for phrase in phrases { #expect(outcome.stderr.contains(phrase), "\(what): '\(phrase)' missing from \(outcome.stderr)") }
        for dump in dumps { #expect(!outcome.stderr.contains(dump), "\(what): \(outcome.stderr)") }
    }

    @Test func aReportThatCannotBeWrittenNamesThePathTheReasonAndWhatToDo() throws {
        let outcome = try CLI.run(["report", someResult.path, "--html", "/proc/x.html"])
        expectOneLine(outcome, status: 1, contains: ["cannot write the report /proc/x.html: ", "no such file or directory", "; check that"],
                      "report to /proc")
        let readOnly = try CLI.run(["report", someResult.path, "--markdown", "/proc/sys/kernel/x/y.md"])
        expectOneLine(readOnly, status: 1, contains: ["cannot write the report /proc/sys/kernel/x/y.md: "], "report under /proc/sys")
    }

    @Test func aComparisonWhoseMarkdownCannotBeWrittenSaysSo() throws {
        let outcome = try CLI.run(["compare", someResult.path, someResult.path, "--markdown", "/proc/x.md"])
        #expect(outcome.stderr.contains("cannot write /proc/x.md: "), "\(outcome.stderr)")
        for dump in dumps { #expect(!outcome.stderr.contains(dump), "\(outcome.stderr)") }
    }

    @Test func aBaselineThatCannotBeSavedNamesItsPath() throws {
        let outcome = try CLI.run(["baseline", "save", "x", "--from", someResult.path], environment: ["KVMBENCH_BASELINES": "/proc/kvmbench-baselines"])
        #expect(outcome.status != 0)
        #expect(outcome.stderr.contains("cannot write the baseline /proc/kvmbench-baselines/x.json: "), "\(outcome.stderr)")
        for dump in dumps { #expect(!outcome.stderr.contains(dump), "\(outcome.stderr)") }
        #expect(outcome.stderr.split(separator: "\n").count == 1, "\(outcome.stderr)")
    }

    @Test func aDirectoryGivenAsAResultFileIsOneLine() throws {
        let outcome = try CLI.run(["report", "/tmp", "--markdown", "/dev/null"])
        #expect(outcome.status != 0)
        #expect(outcome.stderr.contains("/tmp is a directory; give a result file or a baseline name"), "\(outcome.stderr)")
        for dump in dumps { #expect(!outcome.stderr.contains(dump), "\(outcome.stderr)") }
        #expect(outcome.stderr.split(separator: "\n").count == 1, "\(outcome.stderr)")
    }

    @Test func aDocumentOfTheWrongShapeNamesTheField() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("kvmbench-shape-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(#"{"schema_version": 1, "cases": "none"}"#.utf8).write(to: file)
        let outcome = try CLI.run(["report", file.path, "--markdown", "/dev/null"])
        #expect(outcome.status != 0)
        #expect(outcome.stderr.contains("not a valid kvmbench result document: at "), "\(outcome.stderr)")
        for dump in dumps { #expect(!outcome.stderr.contains(dump), "\(outcome.stderr)") }
        #expect(outcome.stderr.split(separator: "\n").count == 1, "\(outcome.stderr)")
    }

    @Test func aSuiteFileThatCannotBeReadIsOneLine() throws {
        let outcome = try CLI.run(["suite", "--file", "/tmp"])
        #expect(outcome.status == 64, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("/tmp: cannot read the suite file: "), "\(outcome.stderr)")
        for dump in dumps { #expect(!outcome.stderr.contains(dump), "\(outcome.stderr)") }
        #expect(outcome.stderr.split(separator: "\n").count == 1, "\(outcome.stderr)")
    }

    @Test func aResultFileThatCannotBeWrittenBeforeTheRunIsAUsageError() throws {
        let outcome = try CLI.run(["run", "demand-paging", "--mem-per-vcpu", "4M", "-o", "/proc/r.json"])
        #expect(outcome.status == 64, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("-o /proc/r.json: cannot create files in /proc ("), "\(outcome.stderr)")
        for dump in dumps { #expect(!outcome.stderr.contains(dump), "\(outcome.stderr)") }
        #expect(outcome.stderr.split(separator: "\n").count == 1, "\(outcome.stderr)")
    }
}

/// `/dev/null` given as an output file is written into, never replaced: renaming a finished file
/// over it (how reports and results are written atomically) once left a plain file there, and
/// every later `> /dev/null` on the machine wrote into that file.
@Suite("command line: /dev/null as an output stays a device")
struct DevNullOutputTests {
    @Test func aReportWrittenToDevNullLeavesTheDevice() throws {
        let outcome = try CLI.run(["report", someResult.path, "--markdown", "/dev/null", "--junit", "/dev/null"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        var status = stat()
        #expect(stat("/dev/null", &status) == 0 && status.st_mode & S_IFMT == S_IFCHR, "/dev/null is no longer a character device")
    }
}
