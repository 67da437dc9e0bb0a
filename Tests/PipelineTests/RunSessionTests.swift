import Foundation
import Host
import Pipeline
import Results
import Testing

@Suite("run session writes", .enabled(if: HostSession.deviceUsable, "needs /dev/kvm (the session opens it): skipped"))
struct RunSessionWriteTests {
    @Test func anAmendedDocumentIsWrittenThroughTheSessionAndFailuresAreReported() throws {
        let host = try HostSession(devicePath: HostSession.devicePath(environment: ProcessInfo.processInfo.environment))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvmbench-session-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let plain = directory.appendingPathComponent("plain")
        try Data().write(to: plain)
        let good = directory.appendingPathComponent("r.json")
        let bad = plain.appendingPathComponent("r.json") // under a regular file: cannot be written
        let session = RunSession(host: host, tool: ToolInfo(version: "test", gitCommit: nil), outputs: [good, bad])
        _ = session.finish()
        #expect(session.writeFailures.count == 1)
        #expect(session.writeFailures.first?.contains("write the results to \(bad.path)") == true)
        let (document, answer) = session.amend { document -> Int in
            document.cases.append(CaseResult(scenario: "amended", parameters: [:]))
            return 42
        }
        #expect(answer == 42)
        #expect(document.cases.map(\.scenario) == ["amended"])
        // The amended write failed on the bad path too; that was said once, not after every write.
        #expect(session.writeFailures.count == 1)
        let written = try ResultDocument.makeDecoder().decode(ResultDocument.self, from: Data(contentsOf: good))
        #expect(written.cases.map(\.scenario) == ["amended"])
    }
}
