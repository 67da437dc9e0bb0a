import Foundation
import Testing

/// Every bad input of the README's list and of the tests, plus those fuzzing found (numbers past
/// UInt64, "inf"): one line, status 64, in under a second of CPU time, and no case started (the
/// progress line "case 1/..." comes before any VM exists; stdout stays empty). CPU time, not wall
/// time: on a busy host a process may wait longer than that for a CPU without doing any more work.
@Suite("command line: bad input is refused at once", .enabled(if: CLI.kvmUsable, "needs /dev/kvm to read the host's limits"))
struct BadInputSpeedTests {
    static let cases: [([String], String)] = [
        // README
        (["run", "demand-paging", "--backing", "hugetlb-1g", "--mem-per-vcpu", "1536M"], "not a multiple of the hugetlb-1g page size (1 GiB)"),
        // tests (CLIBadInputTests, PreflightCLITests)
        (["run", "demand-paging", "--vcpus", "0"], "--vcpus must be at least 1"),
        (["run", "demand-paging", "--vcpus", "100000"], "above this host's limit"),
        (["run", "demand-paging", "--mem-per-vcpu", "0"], "--mem-per-vcpu must be larger than 0"),
        (["run", "demand-paging", "--vcpus", "2", "--mem-per-vcpu", "100T"], "MemAvailable"),
        (["run", "demand-paging", "--backing", "ramfs"], "valid: anonymous-4k"),
        (["run", "demand-paging", "--guest-page-size", "2m", "--mem-per-vcpu", "5M"], "multiple of 2 MiB"),
        (["run", "demand-paging", "--vcpus", "1,0"], "--vcpus must be at least 1"),
        (["run", "demand-paging", "--repetitions", "0"], "--repetitions must be at least 1"),
        (["run", "demand-paging", "--mem-per-vcpu", "4M", "--numa-node", "7"], "--numa-node 7"),
        (["run", "demand-paging", "--vcpus", "1", "--mem-per-vcpu", "4M", "--pin", "4095"], "--pin 4095"),
        (["run", "demand-paging", "--case-timeout", "0"], "--case-timeout must be within"),
        (["run", "demand-paging", "--mem-per-vcpu", "4M", "-o", "/proc/r.json"], "-o /proc/r.json"),
        // found by fuzzing: sizes and durations past UInt64 trapped (SIGILL) instead
        (["run", "demand-paging", "--mem-per-vcpu", "99999999999999999999"], "--mem-per-vcpu"),
        (["run", "demand-paging", "--mem-per-vcpu", "inf"], "--mem-per-vcpu"),
        (["run", "demand-paging", "--mem-per-vcpu", "1e30T"], "--mem-per-vcpu"),
        (["run", "demand-paging", "--uffd", "missing", "--uffd-delay", "1e300s"], "--uffd-delay"),
        (["run", "memslots", "--duration", "1e300"], "--duration"),
        (["run", "dirty-logging", "--concurrent", "--duration", "99999999999999999999999s"], "--duration"),
    ]

    @Test(arguments: 0..<cases.count)
    func oneLineStatus64InUnderASecondWithoutAVM(index: Int) throws {
        let (arguments, phrase) = Self.cases[index]
        let (outcome, seconds) = try Self.runTimingCPU(arguments)
        #expect(outcome.status == 64, "\(arguments): status \(outcome.status), stderr \(outcome.stderr)")
        #expect(outcome.stderr.contains(phrase), "\(arguments): \(outcome.stderr)")
        #expect(outcome.stderr.split(separator: "\n").count == 1, "\(arguments): one line expected: \(outcome.stderr)")
        #expect(!outcome.stderr.contains("case 1/"), "\(arguments): a case started: \(outcome.stderr)")
        #expect(outcome.stdout.isEmpty)
        #expect(seconds < 1, "\(arguments): took \(seconds) s of CPU time")
    }

    /// Runs kvmbench through /bin/sh, whose `times` then writes the user and system CPU time of
    /// its child (that one kvmbench) to a file of its own; the outcome and that CPU time in seconds.
    static func runTimingCPU(_ arguments: [String]) throws -> (CLI.Outcome, Double) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("kvmbench-times-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        let script = "\"$0\" \"$@\"; status=$?; times > \"$KVMBENCH_TEST_TIMES\"; exit $status"
        let outcome = try CLI.launch(URL(fileURLWithPath: "/bin/sh"), ["-c", script, CLI.executable.path] + arguments,
                                     environment: ["KVMBENCH_TEST_TIMES": file.path])
        // Two lines ("0m0.001s 0m0.002s"): the shell's user and system time, then its children's.
        let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n")
        let children = try #require(lines.count == 2 ? lines[1] : nil, "times wrote \(lines)")
        let seconds = try children.split(separator: " ").reduce(0.0) { total, field in
            let parts = field.dropLast().split(separator: "m") // "0m0.002s"
            let minutes = try #require(parts.count == 2 ? Double(parts[0]) : nil, "times wrote \(children)")
            let rest = try #require(Double(parts[1]), "times wrote \(children)")
            return total + minutes * 60 + rest
        }
        return (outcome, seconds)
    }
}
