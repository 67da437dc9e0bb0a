import Harness
import Foundation
import Host
@testable import Pipeline
import Results
import Scenarios
import Selftests
import Suites
import Testing
import TestSupport

/// Where built selftests are: $KVMBENCH_SELFTESTS/kvm, else ~/.cache/kvmbench/selftests/kvm
/// (scripts/build-selftests builds them there; scripts/test runs it before the tests).
enum BuiltSelftests {
    static var root: String { BuiltKernelTree.root }

    /// The built binary `name`; where it is not there or /dev/kvm is unusable, the test is
    /// cancelled (a skip, with the reason).
    static func binary(_ name: String) throws -> String {
        let path = root + "/kvm/" + name
        guard FileManager.default.isExecutableFile(atPath: path) else {
            try Test.cancel("\(path) is not built (scripts/build-selftests builds it; KVMBENCH_SELFTESTS names another directory): skipped")
        }
        guard access("/dev/kvm", R_OK | W_OK) == 0 else {
            try Test.cancel("/dev/kvm is not usable: skipped")
        }
        return path
    }
}

/// Stand-in binaries for the ways a selftest run goes wrong: small shell scripts named like the
/// selftests, which really run as processes (nothing about KVM is pretended: their cases fail or
/// are unsupported, they never produce figures).
struct StandIn {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvmbench-selftest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func script(_ name: String, _ body: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try Data("#!/bin/sh\n\(body)\n".utf8).write(to: url)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
        return url.path
    }

    /// A script that prints a captured output and exits with `status`.
    func replaying(_ name: String, capture: String, status: Int32) throws -> String {
        let copy = directory.appendingPathComponent("\(capture).txt")
        try Data(try Capture.text(capture).utf8).write(to: copy)
        return try script(name, "cat '\(copy.path)'\nexit \(status)")
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

/// The host session cases run in (a selftest case needs none of its KVM, but the pipeline runs
/// every case on one).
enum SelftestHost {
    static let session: HostSession? = try? HostSession(
        devicePath: HostSession.devicePath(environment: ProcessInfo.processInfo.environment))
}

@Suite("selftest cases", .serialized, .enabled(if: SelftestHost.session != nil, "the run pipeline needs /dev/kvm (readable and writable): skipped"))
struct SelftestScenarioTests {
    static let limits = HostLimits(maxVCPUs: 1024, memslots: 32764, memAvailable: nil)

    static func run(_ path: String, args: String = "", repetitions: Int = 1,
                    timeout: Double = CaseContext.defaultTimeoutSeconds) throws -> CaseResult {
        let scenario = try SelftestScenario(parameters: ParameterSet(["path": path, "args": args]), limits: limits)
        let session = try #require(SelftestHost.session)
        return CaseRunner.run(scenario: SelftestScenario.name, parameters: scenario.parameters,
                              settings: RunSettings(warmups: 0, repetitions: repetitions),
                              host: session, timeoutSeconds: timeout) { context in try scenario.measure(in: context) }
    }

    @Test func badInputIsRefusedBeforeAnythingRuns() throws {
        let standIn = try StandIn()
        defer { standIn.remove() }
        func refusal(_ parameters: [String: String]) -> String? {
            do {
                _ = try SelftestScenario(parameters: ParameterSet(parameters), limits: Self.limits)
                return nil
            } catch { return error.message }
        }
        #expect(refusal(["path": "/nonexistent/dirty_log_perf_test"])?.contains("no such file") == true)
        #expect(refusal([:])?.contains("needs the path") == true)
        let plain = standIn.directory.appendingPathComponent("demand_paging_test")
        try Data("x".utf8).write(to: plain)
        #expect(refusal(["path": plain.path])?.contains("not executable") == true)
        let good = try standIn.script("dirty_log_perf_test", "true")
        #expect(refusal(["path": good, "vcpus": "2"])?.contains("take only path and args") == true)
        #expect(refusal(["path": good, "args": "-b '64M"])?.contains("quote is not closed") == true)
        let scenario = try SelftestScenario(parameters: ParameterSet(["path": good, "args": "-v 1  -b 64M -x 'a b'"]), limits: Self.limits)
        #expect(scenario.arguments == ["-v", "1", "-b", "64M", "-x", "a b"])
        #expect(scenario.parameters == ["test": "dirty_log_perf_test", "args": "-v 1 -b 64M -x 'a b'"])
    }

    @Test func everyWayARunGoesWrongIsAFailedCaseWithTheTailOfItsOutput() throws {
        let standIn = try StandIn()
        defer { standIn.remove() }
        let unknown = try Self.run(try standIn.script("set_memory_region_test", "echo hello from an unknown test"))
        #expect(unknown.status == .failed)
        #expect(unknown.reason?.hasPrefix("unknown selftest 'set_memory_region_test': kvmbench reads demand_paging_test") == true)
        #expect(unknown.reason?.hasSuffix("the last lines it printed:\nhello from an unknown test") == true)

        let garbage = try Self.run(try standIn.script("dirty_log_perf_test", "echo 'Populate memory time: soon'"))
        #expect(garbage.status == .failed)
        #expect(garbage.reason?.hasPrefix("its output does not parse: dirty_log_perf_test printed no iteration_1_dirty_memory_time figure") == true)
        #expect(garbage.reason?.contains("Populate memory time: soon") == true)

        let crash = try Self.run(try standIn.script("kvm_page_table_test", "echo 'Started all vCPUs successfully'\nkill -SEGV $$"))
        #expect(crash.status == .failed)
        #expect(crash.reason?.hasPrefix("killed by signal 11 (Segmentation fault)") == true)
        #expect(crash.reason?.hasSuffix("Started all vCPUs successfully") == true)

        let assertion = try Self.run(try standIn.replaying("demand_paging_test", capture: "demand_paging_test-assertion", status: 254))
        #expect(assertion.status == .failed)
        #expect(assertion.reason?.hasPrefix("exited with status 254: Test Assertion Failure: demand_paging_test.c:311: nr_vcpus <= max_vcpus") == true)
        #expect(assertion.reason?.hasSuffix("Invalid number of vcpus, must be between 1 and 1024") == true)

        let skip = try Self.run(try standIn.replaying("access_tracking_perf_test", capture: "access_tracking_perf_test", status: 4))
        #expect(skip.status == .unsupported)
        #expect(skip.reason == "access_tracking_perf_test skipped itself: CONFIG_IDLE_PAGE_TRACKING is not enabled")
        #expect(skip.metrics.isEmpty)
    }

    @Test func aRunLongerThanTheCaseTimeoutIsKilled() throws {
        let standIn = try StandIn()
        defer { standIn.remove() }
        let started = Date()
        let result = try Self.run(try standIn.script("memslot_perf_test", "echo 'Testing map performance with 1 runs, 5 seconds each'\nexec sleep 30"),
                                  timeout: 1)
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(result.status == .failed)
        #expect(result.reason?.hasPrefix("timed out after 1 s (--case-timeout) and was killed") == true)
        #expect(result.reason?.hasSuffix("Testing map performance with 1 runs, 5 seconds each") == true)
    }

    /// A real selftest on this host's KVM: every iteration's phases, one sample per repetition,
    /// and the emulation notice on a PVM host.
    @Test func aBuiltDirtyLogPerfTestRunsAsACase() throws {
        let binary = try BuiltSelftests.binary("dirty_log_perf_test")
        let scenario = try SelftestScenario(parameters: ParameterSet(["path": binary, "args": "-v 1 -b 16M -i 2"]), limits: Self.limits)
        let session = RunSession(host: try #require(SelftestHost.session), tool: ToolInfo(version: "test", gitCommit: nil), outputs: [])
        let document = session.run(RunPlan(label: "selftest", cases: [PlannedCase(scenario: scenario, settings: RunSettings(warmups: 0, repetitions: 2))]),
                                   progress: SilentProgress())
        let result = try #require(document.cases.first)
        #expect(result.status == .ok, "\(result.reason ?? "")")
        #expect(result.parameters == ["test": "dirty_log_perf_test", "args": "-v 1 -b 16M -i 2"])
        for iteration in 1...2 {
            for phase in ["dirty_memory", "get_dirty_log", "clear_dirty_log"] {
                let metric = try #require(result.metric(named: "iteration_\(iteration)_\(phase)_time"))
                #expect(metric.samples.count == 2 && metric.samples.allSatisfy { $0 > 0 } && metric.unit == .seconds)
            }
        }
        #expect(result.metric(named: "wall_time")?.samples.count == 2)
        // Recorded for every repetition; that the selftest's own CPU time is not counted as other
        // processes' is `HostLoadChildTests` (a bound on this figure would depend on what else the
        // machine runs).
        let busy = try #require(result.metric(named: "host_busy"))
        #expect(busy.samples.count == 2 && busy.samples.allSatisfy { $0 >= 0 && $0 <= 100 }, "host_busy \(busy.samples)")
        #expect(result.notes.contains { $0.hasPrefix("command: \(binary) -v 1 -b 16M -i 2") })
        let pvm = FileManager.default.fileExists(atPath: "/sys/module/kvm_pvm")
        #expect(result.notes.contains { $0.contains("measure the instruction emulator") } == pvm)
    }

    /// Builds the selftests from Debian's linux-source-6.12 and runs a short one. Minutes on two
    /// cores from nothing, so only with KVMBENCH_SELFTEST_BUILD=1 (into $KVMBENCH_SELFTESTS or
    /// ~/.cache/kvmbench/selftests); scripts/test sets it once it has built them (then it is a
    /// no-op build and a short run).
    @Test func buildingTheSelftestsFromTheDebianPackageWorks() throws {
        guard ProcessInfo.processInfo.environment["KVMBENCH_SELFTEST_BUILD"] == "1" else {
            try Test.cancel("set KVMBENCH_SELFTEST_BUILD=1 to build the KVM selftests from linux-source-6.12 (minutes): skipped")
        }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/build-selftests")
        let process = Process()
        process.executableURL = script
        process.arguments = [BuiltSelftests.root]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let printed = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "scripts/build-selftests failed (is apt reachable?)")
        #expect(printed.trimmingCharacters(in: .whitespacesAndNewlines) == BuiltSelftests.root + "/kvm"
                || printed.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("/kvm"))
        let binary = BuiltSelftests.root + "/kvm/demand_paging_test"
        try #require(FileManager.default.isExecutableFile(atPath: binary), "scripts/build-selftests succeeded but built no \(binary)")
        let result = try Self.run(binary, args: "-v 1 -b 8M")
        #expect(result.status == .ok, "\(result.reason ?? "")")
        #expect(result.metric(named: "total_guest_execution_time")?.samples.first.map { $0 > 0 } == true)
    }
}
