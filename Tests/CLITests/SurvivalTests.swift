import Foundation
import Testing

private let poolFile = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"

private func poolSize() -> Int? {
    (try? String(contentsOfFile: poolFile, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
}

private func temporary(_ name: String) -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("kvmbench-\(name)-\(UUID().uuidString)")
}

/// The changes recorded in a ledger file (empty when it does not exist).
private func ledgerChanges(_ url: URL) -> [[String: Any]] {
    guard let data = try? Data(contentsOf: url),
          let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [] }
    return json["changes"] as? [[String: Any]] ?? []
}

@Suite("command line: SIGKILL leaves the host restored and the results readable", .serialized,
       .enabled(if: CLI.kvmUsable && access(poolFile, W_OK) == 0, "needs /dev/kvm and a writable 2M hugepage pool (root)"))
struct SurvivalTests {
    @Test func aKilledRunsHugepagesAreRestoredByTheNextCommandWhichSaysSo() throws {
        let ledger = temporary("ledger").appendingPathExtension("json")
        defer { for suffix in ["", ".lock"] { try? FileManager.default.removeItem(atPath: ledger.path + suffix) } }
        let environment = ["KVMBENCH_LEDGER": ledger.path]
        // Whatever goes wrong below, the pool goes back.
        defer { _ = try? CLI.run(["restore", "--all"], environment: environment) }
        let before = try #require(poolSize())
        let run = try ChildRun(["run", "page-table", "--backing", "hugetlb-2m", "--guest-page-size", "2m", "--vcpus", "1",
                                "--mem-per-vcpu", "32M", "--reserve-hugepages", "--repetitions", "20", "--warmups", "0", "-q"],
                              environment: environment)
        let grew = run.wait(seconds: 60) { (poolSize() ?? 0) > before && !ledgerChanges(ledger).isEmpty }
        try #require(grew, "the run never reserved hugepages: \(run.stderr)")

        // While it runs, `kvmbench host` lists the reservation as live and leaves it alone.
        let host = try CLI.run(["host"], environment: environment)
        #expect(host.status == 0, "\(host.stderr)")
        #expect(host.stdout.contains("2M hugepage pool +"), "\(host.stdout)")
        #expect(host.stdout.contains("pid \(run.process.processIdentifier)"))
        #expect(host.stdout.contains(" live"))
        #expect(!host.stderr.contains("restored"))

        run.killHard()
        let left = poolSize() ?? 0
        #expect(left > before, "the kill left the pool grown (\(left) pages, was \(before)): the case under test")
        #expect(ledgerChanges(ledger).first?["owner"] as? [String: Any] != nil)

        let next = try CLI.run(["list"], environment: environment)
        #expect(next.status == 0, "\(next.stderr)")
        let lines = next.stderr.split(separator: "\n")
        #expect(lines.count == 1, "one line expected: \(next.stderr)")
        #expect(next.stderr.contains("restored the host changes of kvmbench processes that are gone: 2M hugepage pool \(left) -> \(before) page(s) (pid \(run.process.processIdentifier))"), "\(next.stderr)")
        #expect(poolSize() == before, "nr_hugepages \(poolSize() ?? -1), was \(before)")
        #expect(ledgerChanges(ledger).isEmpty)

        // Nothing left: the next command is silent, and `kvmbench restore` says there is nothing to do.
        let quiet = try CLI.run(["list"], environment: environment)
        #expect(quiet.stderr.isEmpty, "\(quiet.stderr)")
        let restore = try CLI.run(["restore"], environment: environment)
        #expect(restore.status == 0)
        #expect(restore.stdout.hasPrefix("nothing to restore"), "\(restore.stdout)")
    }

    /// Sequential: the case under way keeps its finished repetitions. Interleaved: every case
    /// started (all of them, from the first round on) keeps its own, each marked interrupted.
    @Test(arguments: ["sequential", "interleaved"])
    func aRunKilledInTheMiddleOfACaseLeavesEveryFinishedRepetition(order: String) throws {
        let output = temporary("killed-\(order)").appendingPathExtension("json")
        defer { try? FileManager.default.removeItem(at: output) }
        let run = try ChildRun(["run", "demand-paging", "--vcpus", "1", "--mem-per-vcpu", "8M,16M", "--repetitions", "400",
                                "--warmups", "0", "--order", order, "-q", "-o", output.path], environment: [:])
        // Wait until a few repetitions of the last case written are in the file, then kill without warning.
        func completed() -> Int? {
            guard let data = try? Data(contentsOf: output),
                  let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let cases = json["cases"] as? [[String: Any]], let last = cases.last,
                  let cut = last["interrupted"] as? [String: Any] else { return nil }
            return cut["repetitions_completed"] as? Int
        }
        let started = run.wait(seconds: 60) { (completed() ?? 0) >= 3 }
        try #require(started, "no repetition written within 60 s: \(run.stderr)")
        run.killHard()

        let data = try Data(contentsOf: output)
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let cases = try #require(json["cases"] as? [[String: Any]])
        #expect(cases.count == (order == "sequential" ? 1 : 2))
        var counts: [Int] = []
        for item in cases {
            let cut = try #require(item["interrupted"] as? [String: Int])
            let done = try #require(cut["repetitions_completed"])
            #expect(done >= 1 && done < 400)
            #expect(cut["repetitions_planned"] == 400)
            let metrics = try #require(item["metrics"] as? [[String: Any]])
            let rate = try #require(metrics.first { $0["name"] as? String == "demand_paging_rate" })
            #expect((rate["samples"] as? [Double])?.count == done)
            counts.append(done)
        }
        #expect((counts.last ?? 0) >= 3)
        // Interleaved, the two cases are at most one round apart.
        if order == "interleaved" { #expect(abs(counts[0] - counts[1]) <= 1, "\(counts)") }
        #expect(json["finished_at"] == nil)

        // kvmbench itself reads it and says how far the case got.
        let report = try CLI.run(["report", output.path, "--markdown", "/dev/null"])
        #expect(report.status == 0, "\(report.stderr)")
        let compare = try CLI.run(["compare", output.path, output.path])
        #expect(!compare.stderr.contains("not a valid"), "\(compare.stderr)")
    }
}
