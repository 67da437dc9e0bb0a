import ArgumentParser
import Foundation
import Host
import KVM
import Reporting
import Results
import Scenarios
import Suites

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run one scenario; comma-separated values of a flag (--vcpus 1,2,4) run one case each.",
        subcommands: [RunDemandPaging.self])
}

/// Flags every scenario's guest understands. Each takes a comma-separated list: the cases are
/// the cartesian product of all lists.
struct GuestOptions: ParsableArguments {
    @Option(help: "vCPU counts, e.g. 1,2,4,8 (a sweep gives a scaling curve).")
    var vcpus: String?
    @Option(name: .customLong("mem-per-vcpu"), help: "Guest memory per vCPU, e.g. 256M, 1G.")
    var memPerVCPU: String?
    @Option(help: "Host backing: anonymous-4k, thp, hugetlb-2m, hugetlb-1g, shmem, shared-hugetlb.")
    var backing: String?
    @Option(name: .customLong("guest-page-size"), help: "Guest page-table page size: 4k or 2m.")
    var guestPageSize: String?
    @Option(help: "Memslots the test memory is split across.")
    var slots: String?
    @Option(help: "Access order: sequential or random.")
    var access: String?
    @Option(name: .customLong("write-percent"), help: "Percentage of accesses that write (0-100).")
    var writePercent: String?
    @Option(help: "Seed of the per-vCPU random generators.")
    var seed: String?
    @Flag(name: .customLong("shared-region"), help: "All vCPUs access one shared region (contention on the same pages).")
    var sharedRegion = false
    @Flag(name: .customLong("host-prefault"), help: "Populate the host backing before the guest runs: isolates KVM's fault cost from host page allocation.")
    var hostPrefault = false
    @Flag(name: .customLong("reserve-hugepages"), help: "Let kvmbench grow hugetlb pools as needed; they are restored afterwards.")
    var reserveHugepages = false

    /// Parameter lists keyed as scenarios read them.
    var lists: [String: [String]] {
        var out: [String: [String]] = [:]
        func put(_ key: String, _ value: String?) { if let value { out[key] = splitList(value) } }
        put("vcpus", vcpus); put("mem_per_vcpu", memPerVCPU); put("backing", backing)
        put("guest_page_size", guestPageSize); put("slots", slots); put("access", access)
        put("write_percent", writePercent); put("seed", seed)
        if sharedRegion { out["shared_region"] = ["true"] }
        if hostPrefault { out["host_prefault"] = ["true"] }
        if reserveHugepages { out["reserve_hugepages"] = ["true"] }
        return out
    }
}

/// How a run is repeated and where its results go.
struct OutputOptions: ParsableArguments {
    @Option(help: "Measured repetitions per case, each on a fresh VM.")
    var repetitions = 3
    @Option(help: "Warm-up repetitions per case, run and discarded (the host's RAM is backed lazily: the first touch costs more).")
    var warmups = 1
    @Flag(help: "Print the result document as JSON on stdout instead of tables.")
    var json = false
    @Option(name: .shortAndLong, help: "Also write the result document to this file (atomically, after every case).")
    var output: String?
    @Flag(name: .shortAndLong, help: "No progress lines.")
    var quiet = false

    func validate() throws {
        guard repetitions >= 1 else { throw ValidationError("--repetitions must be at least 1 (got \(repetitions))") }
        guard warmups >= 0 else { throw ValidationError("--warmups must be 0 or more (got \(warmups))") }
    }

    var settings: RunSettings { RunSettings(warmups: warmups, repetitions: repetitions) }
}

func splitList(_ text: String) -> [String] {
    text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}

/// Every combination of the lists' values, in a stable order (first key varies slowest).
func cartesianProduct(_ lists: [String: [String]]) -> [[String: String]] {
    var combos: [[String: String]] = [[:]]
    for key in lists.keys.sorted() {
        let values = lists[key] ?? []
        combos = combos.flatMap { combo in values.map { var next = combo; next[key] = $0; return next } }
    }
    return combos
}

/// Validates every case of a run (before any VM exists), runs them, prints and writes the results.
/// Exits 64 on bad input, 3 when a case failed.
func executeRun(scenario: any Scenario.Type, lists: [String: [String]], output: OutputOptions) throws {
    let kvm = openKVM()
    let limits = HostProbe.limits(kvm: kvm)
    if let empty = lists.first(where: { $0.value.isEmpty }) {
        fail("--\(empty.key.replacingOccurrences(of: "_", with: "-")) needs at least one value", status: ExitStatus.usage)
    }
    var cases: [any Scenario] = []
    for parameters in cartesianProduct(lists) {
        do {
            cases.append(try scenario.init(parameters: ParameterSet(parameters), limits: limits))
        } catch {
            fail(error.message, status: ExitStatus.usage)
        }
    }
    let fingerprint = HostProbe.fingerprint(kvm: kvm)
    let outputs = output.output.map { [URL(fileURLWithPath: $0)] } ?? []
    let session = RunSession(host: fingerprint, tool: ToolVersion.current, outputs: outputs)
    session.handleSignals()
    let progress = ConsoleProgress(label: scenario.name, quiet: output.quiet || output.json)
    let document = session.run(cases, settings: output.settings, progress: progress)
    if output.json {
        print(String(decoding: try document.encoded(), as: UTF8.self))
    } else {
        let colour = isatty(STDOUT_FILENO) != 0 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        print(renderResultText(document, colour: colour))
    }
    if document.cases.contains(where: { $0.status == .failed }) { throw ExitCode(ExitStatus.caseFailed) }
}

struct RunDemandPaging: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: DemandPagingScenario.name,
        abstract: "Demand paging: every vCPU touches its memory for the first time (KVM page-fault throughput), then again.",
        discussion: """
        Reports the first-touch time, per-vCPU times, the demand-paging rate (pages/s overall and per vCPU),
        the second-pass time, and the KVM stats deltas (pf_taken, pf_fixed, pages_4k, ...). The timed region
        is each vCPU's KVM_RUN loop for one pass, between two CLOCK_MONOTONIC reads.
        """)

    @OptionGroup var guest: GuestOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        try executeRun(scenario: DemandPagingScenario.self, lists: guest.lists, output: output)
    }
}
