import Foundation
import Testing

/// A kvmbench run started as a child process, which a test can signal or kill (InterruptTests,
/// SurvivalTests).
final class ChildRun {
    let process = Process()
    let stderrFile: URL

    init(_ arguments: [String], environment: [String: String] = [:]) throws {
        stderrFile = FileManager.default.temporaryDirectory.appendingPathComponent("kvmbench-stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        process.executableURL = CLI.executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: stderrFile)
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: stderrFile)
    }

    var stderr: String { (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? "" }

    /// Waits for the child to exit, at most `seconds`; its exit status, or nil when it is still running.
    func wait(seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// Waits (at most `seconds`) until `condition` holds while the process runs; whether it held.
    func wait(seconds: Double, until condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            guard process.isRunning, Date() < deadline else { return false }
            usleep(5_000)
        }
        return true
    }

    /// SIGKILL, and waits until the process is gone.
    func killHard() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// Cases in a result file, or nil while it does not exist or does not parse.
private func casesWritten(_ url: URL) -> Int? {
    guard let data = try? Data(contentsOf: url),
          let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
          let cases = json["cases"] as? [[String: Any]] else { return nil }
    return cases.count
}

private let poolFile = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"

private func poolSize() -> Int? {
    (try? String(contentsOfFile: poolFile, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
}

/// Ten cases of 2 x 8 MiB on hugetlb-2m, each reserving 8 pages (few enough for a fragmented
/// host) and giving them back; ten repetitions make each case last long enough to be hit.
private func hugepageRun(output: URL) -> [String] {
    ["run", "demand-paging", "--vcpus", "2", "--mem-per-vcpu", Array(repeating: "8M", count: 10).joined(separator: ","),
     "--backing", "hugetlb-2m", "--reserve-hugepages", "--repetitions", "10", "--warmups", "0", "-q", "-o", output.path]
}

@Suite("command line: interrupted runs", .serialized,
       .enabled(if: CLI.kvmUsable && access(poolFile, W_OK) == 0, "needs /dev/kvm and a writable 2M hugepage pool (root)"))
struct InterruptTests {
    let output = FileManager.default.temporaryDirectory.appendingPathComponent("kvmbench-interrupt-\(UUID().uuidString).json")

    /// Starts the run and waits until its first case is in the result file and a later case has
    /// grown the hugepage pool beyond `before`; the run and the pool size seen then (read once: a
    /// second read may fall between two cases, when the pool is back to `before` for a moment).
    private func startAndWaitForFirstCase(poolBefore before: Int, environment: [String: String] = [:]) throws -> (ChildRun, Int) {
        let child = try ChildRun(hugepageRun(output: output), environment: environment)
        let deadline = Date().addingTimeInterval(120)
        var pool = poolSize() ?? 0
        while ((casesWritten(output) ?? 0) < 1 || pool <= before) && child.process.isRunning && Date() < deadline {
            usleep(5_000)
            pool = poolSize() ?? 0
        }
        try #require(child.process.isRunning, "the run ended before it could be interrupted: \(child.stderr)")
        try #require((casesWritten(output) ?? 0) >= 1, "no case written within 120 s: \(child.stderr)")
        return (child, pool)
    }

    @Test func sigintMidRunWritesTheCasesSoFarMarkedInterruptedAndRestoresThePool() throws {
        defer { try? FileManager.default.removeItem(at: output) }
        let before = try #require(poolSize())
        let (child, grown) = try startAndWaitForFirstCase(poolBefore: before)
        kill(child.process.processIdentifier, SIGINT)
        let status = child.wait(seconds: 60)
        #expect(grown > before) // the signal hit a case holding reserved hugepages
        #expect(status == 130, "stderr: \(child.stderr)")
        let data = try Data(contentsOf: output)
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(json["interrupted"] as? Bool == true)
        let cases = try #require(json["cases"] as? [[String: Any]])
        #expect(cases.count >= 1 && cases.count < 10)
        #expect(cases.first?["status"] as? String == "ok")
        #expect(poolSize() == before, "nr_hugepages \(poolSize() ?? -1), was \(before)")
        #expect(child.stderr.contains("interrupted by signal 2"))
    }

    @Test func aSecondSignalExitsAtOnceWhenTheFirstShutdownIsStuckAndStillRestoresThePool() throws {
        defer { try? FileManager.default.removeItem(at: output) }
        let before = try #require(poolSize())
        // Fault injection: the orderly shutdown of the first signal never finishes.
        let (child, _) = try startAndWaitForFirstCase(poolBefore: before, environment: ["KVMBENCH_TEST_STALL_ON_INTERRUPT": "1"])
        kill(child.process.processIdentifier, SIGINT)
        #expect(child.wait(seconds: 1.5) == nil, "the stalled shutdown must not exit by itself")
        // The main thread goes on running cases meanwhile: wait until one holds reserved pages again.
        let deadline = Date().addingTimeInterval(30)
        var grown = poolSize() ?? 0
        while grown <= before && child.process.isRunning && Date() < deadline {
            usleep(5_000)
            grown = poolSize() ?? 0
        }
        #expect(grown > before)
        kill(child.process.processIdentifier, SIGINT)
        let status = child.wait(seconds: 10)
        #expect(status == 130, "stderr: \(child.stderr)")
        #expect(poolSize() == before, "nr_hugepages \(poolSize() ?? -1), was \(before)")
        #expect(child.stderr.contains("second signal 2: exiting at once"))
        #expect((casesWritten(output) ?? 0) >= 1) // what was written after each case is still there and parses
    }
}

/// Runs `script` with /bin/sh, $0 being the kvmbench executable (a fixed script: the shell only
/// sets a limit and execs kvmbench).
private func shell(_ script: String) throws -> CLI.Outcome {
    try CLI.launch(URL(fileURLWithPath: "/bin/sh"), ["-c", script, CLI.executable.path])
}

@Suite("command line: pre-flight and placement", .enabled(if: CLI.kvmUsable, "needs /dev/kvm (readable and writable): skipped"))
struct PreflightCLITests {
    @Test func anOutputDirectoryThatDoesNotExistIsRefusedBeforeAnyVMAndNotCreated() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("kvmbench-missing-\(UUID().uuidString)")
        let outcome = try CLI.run(["run", "demand-paging", "--mem-per-vcpu", "4M", "-o", base.appendingPathComponent("sub/r.json").path])
        #expect(outcome.status == 64)
        #expect(outcome.stderr.contains("does not exist; create it first"), "\(outcome.stderr)")
        #expect(!FileManager.default.fileExists(atPath: base.path))
    }

    @Test func tooFewOpenFilesIsRefusedWithTheShortfall() throws {
        let outcome = try shell("ulimit -n 48 && exec \"$0\" run demand-paging --vcpus 20 --mem-per-vcpu 2M")
        #expect(outcome.status == 64, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("needs about 74 open files"), "\(outcome.stderr)")
        #expect(outcome.stderr.contains("RLIMIT_NOFILE allows 48 (hard limit): short by 26"), "\(outcome.stderr)")
    }

    @Test func aLowSoftFileLimitIsRaisedAndTheRunGoesOn() throws {
        let outcome = try shell("ulimit -S -n 48 && exec \"$0\" run demand-paging --vcpus 20 --mem-per-vcpu 2M --repetitions 1 --warmups 0 -q")
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("the RLIMIT_NOFILE soft limit is 48: kvmbench raises it to 74"), "\(outcome.stderr)")
    }

    @Test func placementFlagsAreCheckedAgainstThisHost() throws {
        let node = try CLI.run(["run", "demand-paging", "--mem-per-vcpu", "4M", "--numa-node", "7"])
        #expect(node.status == 64)
        #expect(node.stderr.contains("--numa-node 7: this host has no such node; nodes with memory this process may use:"), "\(node.stderr)")
        let cpu = try CLI.run(["run", "demand-paging", "--vcpus", "1", "--mem-per-vcpu", "4M", "--pin", "4095"])
        #expect(cpu.status == 64)
        #expect(cpu.stderr.contains("--pin 4095: CPU 4095 is not online; online CPUs:"), "\(cpu.stderr)")
        let length = try CLI.run(["run", "demand-paging", "--vcpus", "1", "--mem-per-vcpu", "4M", "--pin", "0,0,0"])
        #expect(length.stderr.contains("names 3 CPU(s) for --vcpus 1"), "\(length.stderr)")
        let timeout = try CLI.run(["run", "demand-paging", "--case-timeout", "0"])
        #expect(timeout.status == 64)
        #expect(timeout.stderr.contains("--case-timeout must be within 0.5...86400 seconds"))
    }

    @Test func caseTimeoutIsDocumentedWithItsDefault() throws {
        let help = try CLI.run(["run", "demand-paging", "--help"])
        #expect(help.stdout.contains("--case-timeout <seconds>"))
        #expect(help.stdout.contains("Default 120"))
    }

    @Test func pinAndNumaNodeRunAndAreRecorded() throws {
        let outcome = try CLI.run(["run", "demand-paging", "--vcpus", "2", "--mem-per-vcpu", "4M", "--pin", "auto", "--numa-node", "0",
                                   "--repetitions", "1", "--warmups", "0", "--json"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
        let first = try #require((json["cases"] as? [[String: Any]])?.first)
        let parameters = try #require(first["parameters"] as? [String: String])
        #expect(parameters["pin"] == "auto")
        #expect(parameters["numa_node"] == "0")
        let notes = try #require(first["notes"] as? [String])
        #expect(notes.contains { $0.hasPrefix("placement --pin auto:") })
        let numa = try #require((first["phase_stats"] as? [String: [String: Int]])?["numa_pages"])
        #expect(numa["numa_node0"] == 2048)
    }
}
