import Foundation
import Testing

/// `report`, `compare` and `gate` export what labs read; a LAVA job's `lava-test-case` is stood in
/// for by a script that records its arguments, as the LAVA test definition's steps would call it.
@Suite("command line: fleet exports")
struct FleetExportCLITests {
    static let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Reports/sample/nightly.json").path

    @Test func reportWritesEveryExportAndCallsLavaTestCase() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvmbench-fleet-cli-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let calls = directory.appendingPathComponent("calls.txt")
        let standIn = directory.appendingPathComponent("lava-test-case")
        try "#!/bin/sh\necho \"$*\" >> '\(calls.path)'\n".write(to: standIn, atomically: true, encoding: .utf8)
        chmod(standIn.path, 0o755)
        let files = ["kcidb.json", "bmf.json", "otava.csv"].map { directory.appendingPathComponent($0).path }
        let path = directory.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let outcome = try CLI.run(["report", Self.sample, "--kcidb", files[0], "--bmf", files[1], "--csv", files[2], "--lava"],
                                  environment: ["PATH": path])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        for file in files { #expect(FileManager.default.fileExists(atPath: file), "\(file)") }
        let lines = try String(contentsOf: calls, encoding: .utf8).split(separator: "\n")
        #expect(lines.count > 20)
        #expect(lines.allSatisfy { $0.contains(" --result ") })
        #expect(lines.contains { $0.contains("--measurement") && $0.contains("--units") })
        // Without lava-test-case on PATH the same invocations are printed.
        let printed = try CLI.run(["report", Self.sample, "--lava"], environment: ["PATH": "/usr/bin:/bin"])
        #expect(printed.status == 0)
        #expect(printed.stdout.split(separator: "\n").filter { $0.hasPrefix("lava-test-case ") }.count == lines.count)
    }
}
