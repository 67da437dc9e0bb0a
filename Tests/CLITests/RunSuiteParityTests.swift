import Foundation
import Testing

/// `kvmbench run` is a suite of one entry: the same case gives the same metrics, parameters and
/// notes whichever command ran it (derived metrics such as a vCPU sweep's scaling_efficiency included).
@Suite("command line: run and suite give a case the same metrics", .serialized)
struct RunSuiteParityTests {
    struct Document: Decodable {
        struct Case: Decodable {
            struct Metric: Decodable { var name: String }
            var scenario: String
            var parameters: [String: String]
            var status: String
            var metrics: [Metric]
        }
        var cases: [Case]
    }

    /// Each: scenario, its flags for `run`, the same as suite keys.
    static let cases: [(String, [String], String)] = [
        ("demand-paging", ["--vcpus", "1,2", "--mem-per-vcpu", "8M"], "matrix:\n      vcpus: [1, 2]\n    parameters:\n      mem_per_vcpu: 8M"),
        ("dirty-logging", ["--mem-per-vcpu", "8M", "--dirty-mode", "ring"], "parameters:\n      mem_per_vcpu: 8M\n      dirty_mode: ring"),
    ]

    @Test("run and suite of the same cases: same case keys, same metric names", .enabled(if: CLI.kvmUsable, "needs a usable /dev/kvm"),
          arguments: 0..<2)
    func sameMetrics(index: Int) throws {
        let (scenario, flags, keys) = Self.cases[index]
        let counts = ["--repetitions", "1", "--warmups", "0", "--json", "-q"]
        let run = try CLI.run(["run", scenario] + flags + counts)
        #expect(run.status == 0, "run: \(run.stderr)")

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvmbench-parity-\(getpid())-\(index)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("parity.yaml")
        try "suite: parity\ncases:\n  - scenario: \(scenario)\n    \(keys)\n".write(to: file, atomically: true, encoding: .utf8)
        let suite = try CLI.run(["suite", "--file", file.path, "--output", directory.appendingPathComponent("out.json").path] + counts)
        #expect(suite.status == 0, "suite: \(suite.stderr)")

        let fromRun = try JSONDecoder().decode(Document.self, from: Data(run.stdout.utf8)).cases
        let fromSuite = try JSONDecoder().decode(Document.self, from: Data(suite.stdout.utf8)).cases
        #expect(fromRun.count == fromSuite.count && !fromRun.isEmpty)
        for (a, b) in zip(fromRun, fromSuite) {
            #expect(a.parameters == b.parameters)
            #expect(a.status == "ok" && b.status == "ok", "\(a.status) / \(b.status)")
            #expect(Set(a.metrics.map(\.name)) == Set(b.metrics.map(\.name)),
                    "only in run: \(Set(a.metrics.map(\.name)).subtracting(b.metrics.map(\.name))); only in suite: \(Set(b.metrics.map(\.name)).subtracting(a.metrics.map(\.name)))")
        }
        if scenario == "demand-paging" {
            #expect(fromSuite.allSatisfy { $0.metrics.contains { $0.name == "scaling_efficiency" } }, "a vCPU sweep in a suite gets scaling_efficiency too")
        }
    }
}

/// The default report folder is made when it is missing; only a path the user gives (-o) must exist.
@Suite("command line: the default report folder")
struct DefaultReportFolderTests {
    @Test("a suite whose report folder does not exist yet runs and makes it", .enabled(if: CLI.kvmUsable, "needs a usable /dev/kvm"))
    func missingReportFolderIsMade() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("kvmbench-reports-\(getpid())")
        defer { try? FileManager.default.removeItem(at: root) }
        let reports = root.appendingPathComponent("new/Reports")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let file = root.appendingPathComponent("tiny.yaml")
        try "suite: tiny\ncases:\n  - scenario: demand-paging\n    parameters:\n      mem_per_vcpu: 4M\n".write(to: file, atomically: true, encoding: .utf8)
        let outcome = try CLI.run(["suite", "--file", file.path, "--repetitions", "1", "--warmups", "0", "-q", "--no-history"],
                                  environment: ["KVMBENCH_REPORTS": reports.path])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let written = (try? FileManager.default.contentsOfDirectory(atPath: reports.path)) ?? []
        #expect(written.contains { $0.hasPrefix("tiny-") && $0.hasSuffix(".json") }, "\(written)")
    }
}
