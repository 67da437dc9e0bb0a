import Foundation
import Host
import Results
import Suites
import Testing
import TestSupport

/// Runs the built `kvmbench` executable (beside the test bundle: `swift build --build-tests`
/// builds both) as a user would, with baselines and reports in a temporary directory.
struct Kvmbench {
    let directory: URL
    /// The baselines directory (default: `Baselines` under `directory`).
    var baselines: URL?

    static var executable: URL {
        let testBinary = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
        return testBinary.resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("kvmbench")
    }

    struct Outcome { var status: Int32; var stdout: String; var stderr: String }

    var environment: [String: String] {
        ["KVMBENCH_BASELINES": (baselines ?? directory.appendingPathComponent("Baselines")).path,
         "KVMBENCH_REPORTS": directory.appendingPathComponent("Reports").path,
         "KVMBENCH_SUITES": Fixtures.root.appendingPathComponent("Suites").path, "NO_COLOR": "1"]
    }

    func process(_ arguments: [String]) -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.currentDirectoryURL = directory
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        return (process, out, err)
    }

    func run(_ arguments: [String]) throws -> Outcome {
        let (process, out, err) = process(arguments)
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                       stderr: String(decoding: stderr, as: UTF8.self))
    }

    func file(_ name: String) -> URL { directory.appendingPathComponent(name) }

    func write(_ document: ResultDocument, _ name: String) throws -> String {
        try document.encoded().write(to: file(name))
        return file(name).path
    }
}

@Suite("kvmbench suite / baseline / compare / gate on the command line",
       .enabled(if: FileManager.default.isExecutableFile(atPath: Kvmbench.executable.path), "the kvmbench executable is not built"))
struct SuiteCommandTests {
    static func cli() throws -> Kvmbench { Kvmbench(directory: try Fixtures.temporaryDirectory("cli")) }

    @Test func listShowsTheSuitesOneLineEach() throws {
        let cli = try Self.cli()
        defer { try? FileManager.default.removeItem(at: cli.directory) }
        let outcome = try cli.run(["list"])
        #expect(outcome.status == 0)
        for name in ["memslots", "nightly", "full", "zap-all"] {
            #expect(outcome.stdout.contains("\n  \(name) "), "\(outcome.stdout)")
        }
    }

    @Test func anUnknownSuiteIsAUsageErrorListingTheKnownOnes() throws {
        let cli = try Self.cli()
        defer { try? FileManager.default.removeItem(at: cli.directory) }
        let outcome = try cli.run(["suite", "nighty"])
        #expect(outcome.status == 64)
        #expect(outcome.stderr.hasPrefix("kvmbench: unknown suite 'nighty'; known suites: demand-paging, dirty-logging, full, memslots, nightly"), "\(outcome.stderr)")
        #expect(outcome.stderr.split(separator: "\n").count == 1)
    }

    @Test func aBadSuiteFileIsAUsageErrorWithItsLine() throws {
        let cli = try Self.cli()
        defer { try? FileManager.default.removeItem(at: cli.directory) }
        let path = try Fixtures.write("cases:\n  - scenario: demand-paging\n    matrix:\n      vcpus: [1]\n      colour: [red]\n",
                                      name: "bad.yaml", in: cli.directory).path
        let outcome = try cli.run(["suite", "--file", path])
        #expect(outcome.status == 64)
        #expect(outcome.stderr.contains("\(path):5:7: unknown parameter 'colour' for scenario demand-paging; allowed:"), "\(outcome.stderr)")
    }

    @Test func brokenOrNewerFilesAreRefusedWithStatus4AndNothingIsWrittenOver() throws {
        let cli = try Self.cli()
        defer { try? FileManager.default.removeItem(at: cli.directory) }
        let good = try cli.write(Fixtures.document([Fixtures.timeCase(vcpus: 1)]), "good.json")
        #expect(try cli.run(["baseline", "save", "main", "--from", good]).status == 0)
        let saved = cli.directory.appendingPathComponent("Baselines/main.json")
        let before = try Data(contentsOf: saved)

        let full = try Data(contentsOf: URL(fileURLWithPath: good))
        try full.prefix(full.count / 2).write(to: cli.file("cut.json"))
        try Data(#"{"schema_version": 99, "cases": "later"}"#.utf8).write(to: cli.file("newer.json"))
        let other = try cli.write(Fixtures.document([Fixtures.timeCase(vcpus: 64)]), "other.json")

        let truncatedSave = try cli.run(["baseline", "save", "main", "--replace", "--from", cli.file("cut.json").path])
        #expect(truncatedSave.status == 4)
        #expect(truncatedSave.stderr.contains("cut.json: not valid JSON at line "), "\(truncatedSave.stderr)")
        #expect(try Data(contentsOf: saved) == before)

        let newer = try cli.run(["compare", "main", cli.file("newer.json").path])
        #expect(newer.status == 4)
        #expect(newer.stderr.contains("written by a newer kvmbench (schema_version 99"), "\(newer.stderr)")
        let newerGate = try cli.run(["gate", "--baseline", cli.file("newer.json").path, "--result", good])
        #expect(newerGate.status == 4)

        let disjoint = try cli.run(["compare", "main", other])
        #expect(disjoint.status == 4)
        #expect(disjoint.stderr.contains("share no cases"), "\(disjoint.stderr)")

        let missing = try cli.run(["gate", "--baseline", "nosuch", "--result", good])
        #expect(missing.status == 4)
        #expect(missing.stderr.contains("no baseline named 'nosuch'") && missing.stderr.contains("baselines: main"), "\(missing.stderr)")

        let reference = try cli.run(["gate", "--baseline", "\(Fixtures.root.path)/Baselines/reference/zap-all-fast-v2.json", "--result", good])
        #expect(reference.status == 4)
        #expect(reference.stderr.contains("cannot gate"), "\(reference.stderr)")

        let badName = try cli.run(["baseline", "save", "../escape", "--from", good])
        #expect(badName.status == 64)
        #expect(!FileManager.default.fileExists(atPath: cli.directory.appendingPathComponent("escape.json").path))
        #expect(try Data(contentsOf: saved) == before)
    }

    @Test func gateExitStatusesOnResultFiles() throws {
        let cli = try Self.cli()
        defer { try? FileManager.default.removeItem(at: cli.directory) }
        let base = try cli.write(Fixtures.document([Fixtures.timeCase(vcpus: 1)]), "base.json")
        let same = try cli.write(Fixtures.document([Fixtures.timeCase(vcpus: 1, samples: Fixtures.samples.reversed())]), "same.json")
        let slow = try cli.write(Fixtures.document([Fixtures.timeCase(vcpus: 1, samples: Fixtures.samples.map { $0 * 1.3 })]), "slow.json")
        var failedCase = Fixtures.timeCase(vcpus: 1, samples: [])
        failedCase.status = .failed
        failedCase.reason = "guest shutdown"
        let failed = try cli.write(Fixtures.document([failedCase]), "failed.json")

        let pass = try cli.run(["gate", "--baseline", base, "--result", same])
        #expect(pass.status == 0, "\(pass.stdout)\(pass.stderr)")
        #expect(pass.stdout.hasPrefix("gate: PASS"), "\(pass.stdout)")

        let regression = try cli.run(["gate", "--baseline", base, "--result", slow, "--junit", cli.file("junit.xml").path])
        #expect(regression.status == 2, "\(regression.stdout)\(regression.stderr)")
        let lines = regression.stdout.split(separator: "\n")
        // The hand-built documents record only vcpus; read as the current declarations name them,
        // the other parameters are their defaults as recorded.
        #expect(lines.first?.hasPrefix("REGRESSION demand-paging [") == true, "\(regression.stdout)")
        #expect(lines.first?.contains(" vcpus=1 ") == true, "\(regression.stdout)")
        #expect(lines.first?.contains("] first_touch_time: ") == true, "\(regression.stdout)")
        #expect(lines.last?.hasPrefix("gate: FAIL: 2 significant regressions") == true, "\(regression.stdout)")
        #expect(try String(contentsOf: cli.file("junit.xml"), encoding: .utf8).contains("<failure"))

        let lenient = try cli.run(["gate", "--baseline", base, "--result", slow, "--threshold", "40%"])
        #expect(lenient.status == 0, "\(lenient.stdout)")

        let failing = try cli.run(["gate", "--baseline", base, "--result", failed])
        #expect(failing.status == 3)
        #expect(failing.stdout.contains("FAILED \(CurrentDeclarations.upgrade(failedCase).key): guest shutdown"), "\(failing.stdout)")

        let usage = try cli.run(["gate", "--baseline", base, "--suite", "nightly", "--file", "x.yaml"])
        #expect(usage.status == 64)

        let three = [100.0, 101.2, 99.1]
        let short = try cli.write(Fixtures.document([Fixtures.timeCase(vcpus: 1, samples: three)]), "short.json")
        let doubled = try cli.write(Fixtures.document([Fixtures.timeCase(vcpus: 1, samples: three.map { $0 * 2 })]), "doubled.json")
        let inconclusive = try cli.run(["gate", "--baseline", short, "--result", doubled])
        #expect(inconclusive.status == 5, "\(inconclusive.stdout)\(inconclusive.stderr)")
        #expect(inconclusive.stdout.contains("gate: INCONCLUSIVE"), "\(inconclusive.stdout)")
        let compared = try cli.run(["compare", short, doubled])
        #expect(compared.status == 0)
        #expect(compared.stdout.contains("cannot decide") && compared.stdout.contains("Detectable"), "\(compared.stdout)")

        let twoCases = try cli.write(Fixtures.document([Fixtures.timeCase(vcpus: 1), Fixtures.timeCase(vcpus: 2)]), "two.json")
        let missingCase = try cli.run(["gate", "--baseline", twoCases, "--result", same])
        #expect(missingCase.status == 2, "\(missingCase.stdout)\(missingCase.stderr)")
        #expect(missingCase.stdout.contains("MISSING case \(CurrentDeclarations.upgrade(Fixtures.timeCase(vcpus: 2)).key)"), "\(missingCase.stdout)")
    }

    @Test func compareAgainstAReferenceSetsTheNumbersSideBySideWithoutSignificance() throws {
        let cli = try Self.cli()
        defer { try? FileManager.default.removeItem(at: cli.directory) }
        let measured = try cli.write(ReferenceBaselineTests.measured([("509", "509"), ("32768", "32763")]), "here.json")
        let shipped = Kvmbench(directory: cli.directory, baselines: Fixtures.root.appendingPathComponent("Baselines"))
        let outcome = try shipped.run(["compare", "reference/memslots-scalable-v4", measured])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("[reference: published figures, other hardware]"))
        #expect(outcome.stdout.contains("reference: no significance possible"))
        #expect(outcome.stdout.contains("slots_requested=32768 slots_effective=32763"))
        #expect(outcome.stderr.contains("WARNING: reference/memslots-scalable-v4 is a reference baseline"), "\(outcome.stderr)")
    }

    /// A run stopped with SIGINT keeps the cases it measured, says it was interrupted, exits 130.
    @Test(.enabled(if: HostSession.deviceUsable, "needs /dev/kvm"))
    func anInterruptedRunKeepsWhatItMeasured() throws {
        let cli = try Self.cli()
        defer { try? FileManager.default.removeItem(at: cli.directory) }
        let suite = try Fixtures.write("""
            suite: long
            warmups: 0
            repetitions: 3
            cases:
              - scenario: demand-paging
                matrix:
                  seed: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]
                parameters:
                  mem_per_vcpu: 32M
            """, name: "long.yaml", in: cli.directory)
        let output = cli.file("long.json")
        // Sequential, so that a finished case means all its repetitions (SurvivalTests covers interleaved).
        let (process, _, err) = cli.process(["suite", "--file", suite.path, "-o", output.path, "-q", "--order", "sequential"])
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        var measured = 0
        while Date() < deadline, process.isRunning {
            if let document = try? DocumentLoader.load(output).document, document.cases.count >= 2 {
                measured = document.cases.count
                break
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(measured >= 2, "the run never wrote two cases")
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 130, "\(stderr)")
        let document = try DocumentLoader.load(output).document
        #expect(document.interrupted)
        #expect(document.cases.count >= measured && document.cases.count < 20)
        // Finished cases have all 3 samples; the case under way when the signal came keeps the
        // repetitions it finished, marked interrupted.
        let finished = document.cases.filter { $0.interrupted == nil }
        #expect(finished.allSatisfy { $0.status == .ok && $0.metrics.allSatisfy { $0.samples.count == 3 } })
        #expect(document.cases.dropLast().allSatisfy { $0.interrupted == nil })
        if let cut = document.cases.last?.interrupted {
            #expect(cut.repetitionsPlanned == 3 && cut.repetitionsCompleted <= 3)
            #expect(document.cases.last?.metrics.allSatisfy { $0.samples.count == cut.repetitionsCompleted } == true)
        }
        #expect(document.suite?.name == "long")
        #expect(stderr.contains("interrupted by signal 2"), "\(stderr)")
    }
}
