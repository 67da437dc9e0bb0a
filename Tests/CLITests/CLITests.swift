import Foundation
import Testing

/// Runs the built `kvmbench` executable as a user would and checks its exit status and message.
enum CLI {
    /// The executable beside the test bundle (both live in the build folder; `swift build
    /// --build-tests` builds both). A missing executable fails the tests rather than skipping them.
    static var executable: URL {
        let testBinary = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
        return testBinary.resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("kvmbench")
    }

    static var kvmUsable: Bool { access("/dev/kvm", R_OK | W_OK) == 0 }

    struct Outcome { var status: Int32; var stdout: String; var stderr: String }

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Outcome {
        try launch(executable, arguments, environment: environment)
    }

    /// Runs `program` with `arguments` to completion and collects its output and status.
    static func launch(_ program: URL, _ arguments: [String], environment: [String: String] = [:]) throws -> Outcome {
        let process = Process()
        process.executableURL = program
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                       stderr: String(decoding: stderr, as: UTF8.self))
    }
}

@Suite("command line: bad input")
struct CLIBadInputTests {
    /// Each: arguments, a phrase the one-line error must contain.
    static let cases: [([String], String)] = [
        (["run", "demand-paging", "--vcpus", "0"], "--vcpus must be at least 1"),
        (["run", "demand-pagin", "--vcpus", "4"], "unknown scenario 'demand-pagin'"),
        (["run", "demand-paging", "--vcpus", "100000"], "above this host's limit"),
        (["run", "demand-paging", "--mem-per-vcpu", "0"], "--mem-per-vcpu must be larger than 0"),
        (["run", "demand-paging", "--vcpus", "2", "--mem-per-vcpu", "100T"], "MemAvailable"),
        (["run", "demand-paging", "--backing", "ramfs"], "valid: anonymous-4k, thp, hugetlb-2m, hugetlb-1g, shmem, shared-hugetlb"),
        (["run", "demand-paging", "--backing", "hugetlb-1g", "--mem-per-vcpu", "1536M"], "not a multiple of the hugetlb-1g page size (1 GiB)"),
        (["run", "demand-paging", "--guest-page-size", "2m", "--mem-per-vcpu", "5M"], "multiple of 2 MiB"),
        (["run", "demand-paging", "--vcpus", "1,0"], "--vcpus must be at least 1"),
        // Sizes, counts and durations past 64 bits: one line, never a trap.
        (["run", "demand-paging", "--mem-per-vcpu", "99999999999999999999"], "--mem-per-vcpu 99999999999999999999: not a size"),
        (["run", "demand-paging", "--mem-per-vcpu", "16777216T"], "--mem-per-vcpu 16777216T: not a size"),
        (["run", "demand-paging", "--vcpus", "1024", "--mem-per-vcpu", "8191T"], "more guest memory than kvmbench's guest can map"),
        (["run", "demand-paging", "--vcpus", "99999999999999999999"], "--vcpus 99999999999999999999: not a whole number"),
        (["run", "demand-paging", "--uffd", "missing", "--uffd-delay", "1e300s"], "--uffd-delay 1e300s: not a duration"),
        (["run", "memslots", "--duration", "1e300"], "--duration 1e300"),
        (["run", "dirty-logging", "--concurrent", "--duration", "99999999999999999999s"], "--duration 99999999999999999999s: not a duration"),
    ]

    @Test(.enabled(if: CLI.kvmUsable, "needs /dev/kvm to read the host's limits"), arguments: 0..<cases.count)
    func refusedWithUsageStatusAndOneLine(index: Int) throws {
        let (arguments, phrase) = Self.cases[index]
        let outcome = try CLI.run(arguments)
        #expect(outcome.status == 64, "\(arguments): status \(outcome.status), stderr \(outcome.stderr)")
        #expect(outcome.stderr.contains(phrase), "\(arguments): \(outcome.stderr)")
        #expect(outcome.stderr.split(separator: "\n").count == 1, "one line expected: \(outcome.stderr)")
        #expect(outcome.stdout.isEmpty)
    }

    /// One test per class of bad input to a scenario's parameter table: an unknown flag, a value the
    /// declaration cannot read, and a value out of this host's range. Each is one line naming what
    /// was wrong and what is allowed, exit 64, before any guest exists (so it holds without /dev/kvm
    /// for the first two).
    @Test func anUnknownFlagIsOneLineNamingTheFlagsTheScenarioTakes() throws {
        for (arguments, phrase) in [(["run", "demand-paging", "--vcpu", "2"], "unknown option --vcpu for kvmbench run demand-paging; it takes --vcpus, --mem-per-vcpu,"),
                                    (["run", "memslots", "--access", "random"], "unknown option --access for kvmbench run memslots; it takes --vcpus,"),
                                    (["run", "memslot-stress", "--zap-all-quirk"], "--no-zap-all-quirk"),
                                    (["run", "demand-paging", "--vcpus"], "--vcpus needs a value <n>")] {
            let outcome = try CLI.run(arguments)
            #expect(outcome.status == 64, "\(arguments): \(outcome.stderr)")
            #expect(outcome.stderr.contains(phrase), "\(arguments): \(outcome.stderr)")
            #expect(outcome.stderr.split(separator: "\n").count == 1, "one line expected: \(outcome.stderr)")
        }
    }

    @Test(.enabled(if: CLI.kvmUsable, "needs /dev/kvm to read the host's limits"))
    func aBadValueIsOneLineNamingWhatIsAllowed() throws {
        for (arguments, phrase) in [(["run", "demand-paging", "--guest-ad-bits", "set"], "--guest-ad-bits set: unknown value; valid: preset, clear"),
                                    (["run", "page-table", "--region", "both"], "--region both: unknown value; valid: shared, private"),
                                    (["run", "mmu-stress", "--cycle-duration", "forever"], "--cycle-duration forever: not a duration within 1ms...60s"),
                                    (["run", "zap-all", "--triggers", "everything"], "--triggers everything: unknown trigger; valid: unrelated-slot,")] {
            let outcome = try CLI.run(arguments)
            #expect(outcome.status == 64, "\(arguments): \(outcome.stderr)")
            #expect(outcome.stderr.contains(phrase), "\(arguments): \(outcome.stderr)")
            #expect(outcome.stderr.split(separator: "\n").count == 1, "one line expected: \(outcome.stderr)")
        }
    }

    @Test(.enabled(if: CLI.kvmUsable, "needs /dev/kvm to read the host's limits"))
    func aValueOutOfRangeIsOneLineWithThisHostsLimit() throws {
        for (arguments, phrase) in [(["run", "demand-paging", "--vcpus", "100000"], "--vcpus 100000 is above this host's limit of"),
                                    (["run", "dirty-logging", "--slots", "100000"], "--slots 100000 is above this host's limit of"),
                                    (["run", "demand-paging", "--uffd", "missing", "--uffd-readers", "65"], "--uffd-readers 65 is out of range: allowed 1...64")] {
            let outcome = try CLI.run(arguments)
            #expect(outcome.status == 64, "\(arguments): \(outcome.stderr)")
            #expect(outcome.stderr.contains(phrase), "\(arguments): \(outcome.stderr)")
            #expect(outcome.stderr.split(separator: "\n").count == 1, "one line expected: \(outcome.stderr)")
        }
    }

    @Test func helpAndListShowEveryParameterWithItsDefaultAndRange() throws {
        let help = try CLI.run(["run", "demand-paging", "--help"])
        #expect(help.status == 0)
        let flags = ["--vcpus <n>", "--mem-per-vcpu <size>", "--backing <backing>", "--guest-page-size <size>", "--slots <n>",
                     "--access <order>", "--write-percent <percent>", "--seed <n>", "--shared-region", "--host-prefault",
                     "--guest-ad-bits <preset|clear>", "--reserve-hugepages", "--pin <none|auto|cpus>", "--numa-node <node>",
                     "--numa-interleave", "--uffd <mode>", "--uffd-shared", "--uffd-readers <n>", "--uffd-delay <duration>"]
        for flag in flags { #expect(help.stdout.contains(flag), "\(flag) missing from --help") }
        // Help wraps its lines; read it with the line breaks folded.
        let folded = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for phrase in ["Key mem_per_vcpu; default 64M;", "Key vcpus; default 1; allowed: 1...KVM_CAP_MAX_VCPUS.",
                       "Key uffd_readers; default 1; allowed: 1...64.", "Key guest_ad_bits; default preset; allowed: preset, clear.",
                       "Key backing; default anonymous-4k; allowed: anonymous-4k, thp,", "Key write_percent; default 100; allowed: 0...100."] {
            #expect(folded.contains(phrase), "\(phrase) missing from --help")
        }
        let memslots = try CLI.run(["run", "memslots", "--help"])
        #expect(memslots.stdout.contains("--no-zap-all-quirk") && !memslots.stdout.contains("--access"))
        let list = try CLI.run(["list"])
        #expect(list.status == 0)
        for scenario in ["demand-paging", "memslots", "memslot-stress", "zap-all", "dirty-logging", "page-table", "selftest",
                         "mmu-stress", "access-tracking"] {
            #expect(list.stdout.contains("Parameters of \(scenario) "), "\(scenario) missing from list")
        }
        for flag in flags.map({ String($0.split(separator: " ")[0]) }) { #expect(list.stdout.contains(flag), "\(flag) missing from list") }
        #expect(list.stdout.contains("--uffd-readers <n>") && list.stdout.contains("1...64"))
        #expect(list.stdout.contains("--cycle-duration <duration>") && list.stdout.contains("1ms...60s"))
    }

    @Test func negativeRepetitionsAreAUsageError() throws {
        let outcome = try CLI.run(["run", "demand-paging", "--repetitions", "0"])
        #expect(outcome.status == 64)
        #expect(outcome.stderr.contains("--repetitions must be at least 1"))
    }
}

@Suite("command line: real runs", .enabled(if: CLI.kvmUsable, "needs /dev/kvm (readable and writable): skipped"))
struct CLIRunTests {
    @Test func demandPagingWritesJSONWithTheFoundationShape() throws {
        let outcome = try CLI.run(["run", "demand-paging", "--vcpus", "2", "--mem-per-vcpu", "8M",
                                   "--repetitions", "2", "--warmups", "0", "--json"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
        let host = try #require(json["host"] as? [String: Any])
        #expect(host["kvm_module"] as? String != nil)
        #expect((json["kvmbench"] as? [String: Any])?["version"] as? String != nil)
        let cases = try #require(json["cases"] as? [[String: Any]])
        #expect(cases.count == 1)
        let first = cases[0]
        #expect(first["scenario"] as? String == "demand-paging")
        #expect(first["status"] as? String == "ok")
        #expect((first["parameters"] as? [String: String])?["vcpus"] == "2")
        let metrics = try #require(first["metrics"] as? [[String: Any]])
        let rate = try #require(metrics.first { $0["name"] as? String == "demand_paging_rate" })
        #expect(rate["unit"] as? String == "pages/s")
        #expect(rate["better"] as? String == "higher")
        #expect((rate["samples"] as? [Double])?.count == 2)
        #expect(rate["median"] as? Double != nil)
        let stats = try #require(first["kvm_stats"] as? [String: Int])
        #expect((stats["pf_taken"] ?? 0) >= 2 * 2048)
    }

    @Test func missingKVMHasItsOwnStatus() throws {
        // A path that does not exist stands in for a host without KVM.
        let outcome = try CLI.run(["host"], environment: ["KVMBENCH_DEVICE": "/nonexistent/kvm"])
        #expect(outcome.status == 69)
        #expect(outcome.stderr.contains("does not exist"))
    }
}
