import Foundation
import Testing

/// THP's `enabled`: a setting every Linux host with THP has, which `kvmbench ab` sides set.
private let thpEnabled = "/sys/kernel/mm/transparent_hugepage/enabled"

/// The bracketed choice of a sysfs choice file.
private func chosen(_ path: String) -> String? {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8),
          let open = text.firstIndex(of: "["), let close = text[open...].firstIndex(of: "]") else { return nil }
    return String(text[text.index(after: open)..<close])
}

/// A THP value other than the one in force, for a side that changes something visible.
private func otherTHPValue() -> String? {
    guard let now = chosen(thpEnabled) else { return nil }
    return ["never", "always", "madvise"].first { $0 != now }
}

private func ledgerKinds(_ path: String) -> [String] {
    guard let data = FileManager.default.contents(atPath: path),
          let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
          let changes = json["changes"] as? [[String: Any]] else { return [] }
    return changes.compactMap { $0["kind"] as? String }
}

private let thpSettable = getuid() == 0 && CLI.kvmUsable && access(thpEnabled, W_OK) == 0

/// A small guest on THP-backed memory: demand paging, one vCPU, 32M.
private let smallGuest = ["ab", "run", "demand-paging", "--vcpus", "1", "--mem-per-vcpu", "32M", "--backing", "thp"]

@Suite("command line: kernel A/B in one boot (kvmbench ab)", .serialized)
struct ABTests {
    let ledger = FileManager.default.temporaryDirectory.appendingPathComponent("kvmbench-ab-\(UUID().uuidString)/ledger.json")
    var environment: [String: String] { ["KVMBENCH_LEDGER": ledger.path] }

    private func cleanUp() {
        _ = try? CLI.run(["restore", "--all"], environment: environment)
        try? FileManager.default.removeItem(at: ledger.deletingLastPathComponent())
    }

    @Test func badInputIsAUsageErrorBeforeAnyGuest() throws {
        defer { cleanUp() }
        for (arguments, message) in [
            (smallGuest, "give what makes the sides differ"),
            (smallGuest + ["--b-setup", "true", "--rounds", "1"], "--rounds takes 2 ... 50"),
            (smallGuest + ["--b-set", "never"], "--b-set: 'never' is not PATH=VALUE"),
            (smallGuest + ["--b-control", "loud"], "--a-control/--b-control take event or stacktrace"),
            (["ab", "--b-setup", "true"], "give a scenario"),
        ] {
            let outcome = try CLI.run(arguments, environment: environment)
            #expect(outcome.status == 64, "\(arguments): \(outcome.status) \(outcome.stderr)")
            #expect(outcome.stderr.contains(message), "\(arguments): \(outcome.stderr)")
            #expect(outcome.stderr.split(separator: "\n").count == 1, "one line: \(outcome.stderr)")
        }
    }

    @Test func aSideThatCannotBeSetUpIsRefusedWithTheReason() throws {
        defer { cleanUp() }
        var cases: [([String], String)] = [
            (smallGuest + ["--b-set", "/etc/hostname=x"], "is not under /sys/ or /proc/sys/"),
            (smallGuest + ["--b-set", "/sys/no/such/file=1"], "/sys/no/such/file does not exist here"),
        ]
        if access(thpEnabled, R_OK) == 0 {
            cases.append((smallGuest + ["--b-set", "\(thpEnabled)=sometimes"], "takes one of always, madvise, never, not 'sometimes'"))
        }
        if CLI.kvmUsable {
            cases.append((smallGuest + ["--b-setup", "echo broken; exit 3"], "`echo broken; exit 3` exited with status 3: broken"))
        }
        for (arguments, message) in cases {
            let outcome = try CLI.run(arguments, environment: environment)
            #expect(outcome.status == 4, "\(arguments): \(outcome.status) \(outcome.stderr)")
            #expect(outcome.stderr.contains(message), "\(arguments): \(outcome.stderr)")
            #expect(outcome.stdout.isEmpty, "nothing measured: \(outcome.stdout)")
        }
    }

    /// Two rounds of THP as found against another THP value: each side's figures per round, a
    /// paired verdict per gated metric, and THP as found afterwards.
    @Test(.enabled(if: thpSettable, "needs root, /dev/kvm and a writable THP enabled file: skipped"))
    func aSettingRunGivesPairedVerdictsAndRestoresTheSetting() throws {
        defer { cleanUp() }
        let found = try #require(chosen(thpEnabled)), other = try #require(otherTHPValue())
        let outcome = try CLI.run(smallGuest + ["--b-set", "\(thpEnabled)=\(other)", "--rounds", "2", "--seed", "1",
                                                "--repetitions", "2", "--warmups", "0", "--json", "-q"], environment: environment)
        #expect([0, 2, 5].contains(outcome.status), "\(outcome.status): \(outcome.stderr)")
        #expect(chosen(thpEnabled) == found)
        #expect(ledgerKinds(ledger.path).isEmpty)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
        let metrics = try #require(json["metrics"] as? [[String: Any]])
        let firstTouch = try #require(metrics.first { $0["metric"] as? String == "first_touch_time" })
        #expect((firstTouch["before_samples"] as? [Double])?.count == 2, "one A median per round")
        #expect((firstTouch["after_samples"] as? [Double])?.count == 2, "one B median per round")
        let paired = try #require(firstTouch["paired_rounds"] as? [String: Any])
        #expect(paired["rounds"] as? Int == 2)
        #expect((firstTouch["explanation"] as? String)?.contains("paired t over 2 rounds") == true, "\(firstTouch)")
    }

    @Test(.enabled(if: thpSettable, "needs root, /dev/kvm and a writable THP enabled file: skipped"))
    func aKilledRunsSettingIsRestoredByTheNextKvmbenchInOneLine() throws {
        defer { cleanUp() }
        let found = try #require(chosen(thpEnabled)), other = try #require(otherTHPValue())
        let run = try ChildRun(smallGuest + ["--b-set", "\(thpEnabled)=\(other)", "--rounds", "2", "--repetitions", "40",
                                             "--warmups", "0", "-q"], environment: environment)
        // Set for 300 ms on end: a B block, not the trial before the first guest.
        var since: Date?
        let set = run.wait(seconds: 120) {
            guard ledgerKinds(ledger.path).contains("setting") else { since = nil; return false }
            if since == nil { since = Date() }
            return Date().timeIntervalSince(since ?? Date()) > 0.3
        }
        try #require(set, "side B's setting never stayed on: \(run.stderr)")
        run.killHard()
        #expect(chosen(thpEnabled) == other, "the kill left THP changed: the case under test")

        let next = try CLI.run(["list"], environment: environment)
        #expect(next.status == 0, "\(next.stderr)")
        #expect(next.stderr.split(separator: "\n").count == 1, "one line expected: \(next.stderr)")
        #expect(next.stderr.hasPrefix("kvmbench: restored the host changes of kvmbench processes that are gone: "), "\(next.stderr)")
        #expect(next.stderr.contains("\(thpEnabled) \(other) -> \(found) (pid \(run.process.processIdentifier))"), "\(next.stderr)")
        #expect(chosen(thpEnabled) == found)
        #expect(ledgerKinds(ledger.path).isEmpty)
    }
}
