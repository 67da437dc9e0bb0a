import Foundation
import Testing

/// tracefs as a test can see it (see the KVM tests' TracefsState; this target has its own copy):
/// mount points, the top-level switches the control could touch, and the instances. When tracefs
/// is mounted nowhere, it is mounted for the look and unmounted again.
private struct TracefsLook: Equatable, CustomStringConvertible {
    var mounts: [String]
    var eventEnable: String?
    var stacktrace: String?
    var instances: [String]

    var description: String { "mounts \(mounts), enable \(eventEnable ?? "-"), stacktrace \(stacktrace ?? "-"), instances \(instances)" }

    static func mountPoints() -> [String] {
        let text = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let halves = line.components(separatedBy: " - ")
            guard halves.count == 2, halves[1].hasPrefix("tracefs ") else { return nil }
            let left = halves[0].split(separator: " ")
            return left.count >= 5 ? String(left[4]) : nil
        }
    }

    static func read() -> TracefsLook {
        let mounts = mountPoints()
        var root = mounts.first, peek: String?
        if root == nil {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvmbench-tracefs-look-\(UUID().uuidString)").path
            if mkdir(directory, 0o700) == 0, mount("nodev", directory, "tracefs", 0, nil) == 0 { root = directory; peek = directory }
        }
        defer { if let peek { umount2(peek, 0); rmdir(peek) } }
        func value(_ file: String) -> String? {
            root.flatMap { try? String(contentsOfFile: "\($0)/\(file)", encoding: .utf8) }?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return TracefsLook(mounts: mounts, eventEnable: value("events/kvmmmu/kvm_mmu_set_spte/enable"),
                           stacktrace: value("options/stacktrace"),
                           instances: root.flatMap { try? FileManager.default.contentsOfDirectory(atPath: "\($0)/instances") }?.sorted() ?? [])
    }
}

private func ledgerKinds(_ path: String) -> [String] {
    guard let data = FileManager.default.contents(atPath: path),
          let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
          let changes = json["changes"] as? [[String: Any]] else { return [] }
    return changes.compactMap { $0["kind"] as? String }
}

private let controlUsable = getuid() == 0 && CLI.kvmUsable && TracefsLook.read().eventEnable != nil

/// A small guest: demand paging, one vCPU, 32M.
private let smallGuest = ["sensitivity", "run", "demand-paging", "--vcpus", "1", "--mem-per-vcpu", "32M"]

@Suite("command line: the positive control (kvmbench sensitivity)", .serialized)
struct SensitivityTests {
    let ledger = FileManager.default.temporaryDirectory.appendingPathComponent("kvmbench-sensitivity-\(UUID().uuidString)/ledger.json")
    var environment: [String: String] { ["KVMBENCH_LEDGER": ledger.path] }

    private func cleanUp() {
        _ = try? CLI.run(["restore", "--all"], environment: environment)
        try? FileManager.default.removeItem(at: ledger.deletingLastPathComponent())
    }

    @Test func badInputIsAUsageError() throws {
        for (arguments, message) in [
            (smallGuest + ["--level", "loud"], "--level takes event or stacktrace"),
            (smallGuest + ["--rounds", "0"], "--rounds takes 1 ... 50"),
            (["sensitivity", "run", "no-such-scenario"], "unknown scenario 'no-such-scenario'"),
            (["sensitivity"], "give a scenario"),
        ] {
            let outcome = try CLI.run(arguments, environment: environment)
            #expect(outcome.status == 64, "\(arguments): \(outcome.status) \(outcome.stderr)")
            #expect(outcome.stderr.contains(message), "\(arguments): \(outcome.stderr)")
        }
        cleanUp()
    }

    @Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), "needs root to drop it (setpriv): skipped"))
    func withoutRootTheControlIsUnsupportedWithTheReason() throws {
        // The test binary's directory must be reachable by the unprivileged user; when it is not, say why.
        let path = CLI.executable.path
        var reachable = true
        var directory = (path as NSString).deletingLastPathComponent
        while directory != "/" && !directory.isEmpty {
            var info = stat()
            if stat(directory, &info) != 0 || info.st_mode & 0o001 == 0 { reachable = false; break }
            directory = (directory as NSString).deletingLastPathComponent
        }
        try #require(reachable, "the kvmbench executable \(path) is not reachable by uid 65534: not checked")
        let outcome = try CLI.launch(URL(fileURLWithPath: "/usr/bin/setpriv"),
                                     ["--reuid=65534", "--regid=65534", "--clear-groups", path] + smallGuest,
                                     environment: ["KVMBENCH_LEDGER": "/tmp/kvmbench-sensitivity-nobody-\(UUID().uuidString).json"])
        #expect(outcome.status == 4, "\(outcome.status): \(outcome.stderr)")
        #expect(outcome.stderr == "kvmbench: sensitivity: unsupported: the positive control needs root (it mounts tracefs and enables kvmmmu:kvm_mmu_set_spte in a tracefs instance); run kvmbench as root\n", "\(outcome.stderr)")
    }

    @Test(.enabled(if: controlUsable, "needs root, /dev/kvm, tracefs and the kvmmmu trace events: skipped"))
    func aRunReportsTheEffectPerGatedMetricAndLeavesTracefsAsFound() throws {
        defer { cleanUp() }
        let found = TracefsLook.read()
        let outcome = try CLI.run(smallGuest + ["--repetitions", "3", "--warmups", "1", "--rounds", "1", "-q"], environment: environment)
        #expect(outcome.status == 0, "\(outcome.status): \(outcome.stderr)")
        #expect(outcome.stdout.contains("positive control: kvmmmu:kvm_mmu_set_spte enabled with options/stacktrace"), "\(outcome.stdout)")
        #expect(outcome.stdout.contains("blocks: A B (A control off, B on)"), "\(outcome.stdout)")
        #expect(outcome.stdout.contains("first_touch_time"), "\(outcome.stdout)")
        #expect(outcome.stdout.contains("sensitivity: the gate caught the control in "), "\(outcome.stdout)")
        #expect(!outcome.stdout.contains("the control fired: 0 trace record"), "the event never fired: \(outcome.stdout)")
        #expect(TracefsLook.read() == found)
        #expect(ledgerKinds(ledger.path).isEmpty)
    }

    @Test func gateBadInputWithThePositiveControlIsAUsageError() throws {
        for (arguments, message) in [
            (["gate", "--positive-control", "--result", "/dev/null"], "with --result nothing runs"),
            (["gate", "--positive-control", "--control-level", "loud"], "--control-level takes event or stacktrace"),
        ] {
            let outcome = try CLI.run(arguments, environment: environment)
            #expect(outcome.status == 64, "\(arguments): \(outcome.status) \(outcome.stderr)")
            #expect(outcome.stderr.contains(message), "\(arguments): \(outcome.stderr)")
        }
        cleanUp()
    }

    /// `gate --positive-control` on a one-case suite and a new history: the night passes
    /// (collecting), the control's effect on the night is measured and printed, nothing of the
    /// control's run joins the history, and tracefs is as it was.
    @Test(.enabled(if: controlUsable, "needs root, /dev/kvm, tracefs and the kvmmmu trace events: skipped"))
    func theGatesPositiveControlReportsTheEffectAndRecordsNothing() throws {
        defer { cleanUp() }
        let directory = ledger.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let suite = directory.appendingPathComponent("tiny.yaml")
        try "suite: tiny\nrepetitions: 3\nwarmups: 1\ncases:\n  - scenario: demand-paging\n    parameters:\n      mem_per_vcpu: 32M\n"
            .write(to: suite, atomically: true, encoding: .utf8)
        let history = directory.appendingPathComponent("history.sqlite").path
        let found = TracefsLook.read()
        let outcome = try CLI.run(["gate", "--file", suite.path, "--history", history, "--positive-control", "-q"],
                                  environment: environment.merging(["KVMBENCH_REPORTS": directory.path]) { $1 })
        #expect(outcome.status == 0, "\(outcome.status): \(outcome.stderr)")
        #expect(outcome.stderr.contains("effect (on/off)") && outcome.stderr.contains("first_touch_time"), "\(outcome.stderr)")
        #expect(outcome.stderr.contains("positive control: the gate caught it in 0 of "), "\(outcome.stderr)")
        #expect(!outcome.stderr.contains(": 0 trace record(s))"), "the event never fired: \(outcome.stderr)")
        #expect(TracefsLook.read() == found)
        #expect(ledgerKinds(ledger.path).isEmpty)
        let runs = try CLI.run(["history", "list", "--history", history], environment: environment)
        #expect(runs.stdout.components(separatedBy: "\n").filter { $0.contains("tiny") }.count == 1, "only the night is recorded: \(runs.stdout)")
    }

    @Test(.enabled(if: controlUsable, "needs root, /dev/kvm, tracefs and the kvmmmu trace events: skipped"))
    func aKilledControlIsRestoredByTheNextKvmbenchWhichSaysSoInOneLine() throws {
        defer { cleanUp() }
        let found = TracefsLook.read()
        // --rounds 1: block 1 off, block 2 on; the trial before block 1 comes and goes in milliseconds.
        let run = try ChildRun(smallGuest + ["--repetitions", "40", "--warmups", "0", "--rounds", "1", "-q"], environment: environment)
        // On for 300 ms on end: the B block, not the trial.
        var since: Date?
        let on = run.wait(seconds: 120) {
            guard ledgerKinds(ledger.path).contains("tracefs-setting") else { since = nil; return false }
            if since == nil { since = Date() }
            return Date().timeIntervalSince(since ?? Date()) > 0.3
        }
        try #require(on, "the control never stayed on: \(run.stderr)")
        run.killHard()
        #expect(!ledgerKinds(ledger.path).isEmpty, "the kill left the control recorded: the case under test")

        let next = try CLI.run(["list"], environment: environment)
        #expect(next.status == 0, "\(next.stderr)")
        #expect(next.stderr.split(separator: "\n").count == 1, "one line expected: \(next.stderr)")
        #expect(next.stderr.hasPrefix("kvmbench: restored the host changes of kvmbench processes that are gone: "), "\(next.stderr)")
        #expect(next.stderr.contains("/options/stacktrace 1 -> 0"), "\(next.stderr)")
        #expect(next.stderr.contains("removed (pid \(run.process.processIdentifier))"), "\(next.stderr)")
        #expect(ledgerKinds(ledger.path).isEmpty)
        #expect(TracefsLook.read() == found)
    }
}
