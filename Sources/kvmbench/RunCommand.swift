import ArgumentParser
import Foundation
import Host
import Pipeline
import Reporting
import Results
import Scenarios

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run one scenario; comma-separated values of a flag (--vcpus 1,2,4) run one case each.",
        subcommands: [RunDemandPaging.self, RunMemslots.self, RunMemslotStress.self, RunZapAll.self, RunDirtyLogging.self, RunPageTable.self, RunMMUStress.self, RunAccessTracking.self])
}

/// Flags every scenario's guest understands. Each takes a comma-separated list: the cases are
/// the cartesian product of all lists.
struct GuestOptions: ParsableArguments {
    @Option(help: "vCPU counts, e.g. 1,2,4,8 (a sweep gives a scaling curve).")
    var vcpus: String?
    @Option(name: .customLong("mem-per-vcpu"), help: "Guest memory per vCPU, e.g. 256M, 1G.")
    var memPerVCPU: String?
    @Option(help: "Host backing: anonymous-4k, thp, hugetlb-2m, hugetlb-1g, shmem, shared-hugetlb, guest-memfd.")
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
    @Option(name: .customLong("guest-ad-bits"), help: "Accessed/Dirty bits in the guest's page tables: preset (default, as Linux guests have them) or clear (measures KVM's A/D-update path).")
    var guestADBits: String?
    @Flag(name: .customLong("reserve-hugepages"), help: "Let kvmbench grow hugetlb pools as needed; they are restored afterwards.")
    var reserveHugepages = false
    @Option(help: ArgumentHelp("vCPU thread placement: none (default), auto (one CPU per vCPU, cores before SMT siblings; main thread and fault handlers on the cores left over), or CPUs like 0,1 or 0-3 (one per vCPU, optionally one more for the main thread). Several placements: none,auto or 'auto;0,1'.", valueName: "none|auto|cpus"))
    var pin: String?
    @Option(name: .customLong("numa-node"), help: "Bind the guest's test memory to this NUMA node (mbind MPOL_BIND before first touch); the result reports where sampled pages landed. A list runs one case each.")
    var numaNode: String?
    @Flag(name: .customLong("numa-interleave"), help: "Interleave the guest's test memory over every NUMA node (mbind MPOL_INTERLEAVE).")
    var numaInterleave = false

    /// Parameter lists keyed as scenarios read them.
    var lists: [String: [String]] {
        var out: [String: [String]] = [:]
        func put(_ key: String, _ value: String?) { if let value { out[key] = splitList(value) } }
        put("vcpus", vcpus); put("mem_per_vcpu", memPerVCPU); put("backing", backing)
        put("guest_page_size", guestPageSize); put("slots", slots); put("access", access)
        put("write_percent", writePercent); put("seed", seed); put("guest_ad_bits", guestADBits)
        if sharedRegion { out["shared_region"] = ["true"] }
        if hostPrefault { out["host_prefault"] = ["true"] }
        if reserveHugepages { out["reserve_hugepages"] = ["true"] }
        if let pin { out["pin"] = splitPlacements(pin) }
        put("numa_node", numaNode)
        if numaInterleave { out["numa_interleave"] = ["true"] }
        return out
    }
}

/// How a run is repeated and where its results go.
struct OutputOptions: ParsableArguments {
    @Option(help: "Measured repetitions per case, each on a fresh VM (5: the fewest for which a comparison of two runs can reach p < 0.05 with room to spare; 3 against 3 never can).")
    var repetitions = 5
    @Option(help: "Warm-up repetitions per case, run and discarded (the host's RAM is backed lazily: the first touch costs more).")
    var warmups = 1
    @Flag(help: "Print the result document as JSON on stdout instead of tables.")
    var json = false
    @Flag(help: "Print the results as KTAP version 1 on stdout instead of tables (one test point per case, its figures as diagnostics), as the kselftest runner does.")
    var ktap = false
    @Option(name: .shortAndLong, help: "Also write the result document to this file (atomically, after every case).")
    var output: String?
    @Flag(name: .shortAndLong, help: "No progress lines.")
    var quiet = false
    @Option(name: .customLong("case-timeout"), help: ArgumentHelp("Seconds a vCPU may go without progress before the watchdog stops it and fails its case; the run goes on with the next case.", valueName: "seconds"))
    var caseTimeout: Double = 120

    func validate() throws {
        if json && ktap { throw ValidationError("give at most one of --json and --ktap") }
        guard repetitions >= 1 else { throw ValidationError("--repetitions must be at least 1 (got \(repetitions))") }
        guard warmups >= 0 else { throw ValidationError("--warmups must be 0 or more (got \(warmups))") }
        guard caseTimeout.isFinite, caseTimeout >= 0.5, caseTimeout <= 86_400 else {
            throw ValidationError("--case-timeout must be within 0.5...86400 seconds (got \(caseTimeout))")
        }
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
/// `amend`, when given, may add to the finished document (e.g. scaling figures over the cases) and
/// returns text printed after the result tables. Exits 64 on bad input, 3 when a case failed.
func executeRun(scenario: any Scenario.Type, lists: [String: [String]], output: OutputOptions,
                amend: ((inout ResultDocument) -> String)? = nil) throws {
    let host = openHost()
    let limits = host.limits
    if let empty = lists.first(where: { $0.value.isEmpty }) {
        fail("--\(empty.key.replacingOccurrences(of: "_", with: "-")) needs at least one value", status: ExitStatus.usage)
    }
    var cases: [any Scenario] = []
    let combinations = cartesianProduct(lists)
    for parameters in combinations {
        do {
            cases.append(try scenario.init(parameters: ParameterSet(parameters), limits: limits))
        } catch {
            fail(error.message, status: ExitStatus.usage)
        }
    }
    preflight(cases, given: combinations, output: output)
    let outputs = output.output.map { [URL(fileURLWithPath: $0)] } ?? []
    let session = RunSession(host: host, tool: ToolVersion.current, outputs: outputs, timeoutSeconds: output.caseTimeout)
    session.handleSignals()
    let progress = ConsoleProgress(label: scenario.name, quiet: output.quiet || output.json || output.ktap)
    var document = session.run(cases, settings: output.settings, progress: progress)
    var appendix = ""
    if let amend {
        // Through the session, so the amended document is written like every other (errors reported).
        (document, appendix) = session.amend(amend)
    }
    if output.json {
        print(String(decoding: try document.encoded(), as: UTF8.self))
    } else if output.ktap {
        print(KTAPReport.render(document), terminator: "")
    } else {
        let colour = isatty(STDOUT_FILENO) != 0 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        print(renderResultText(document, colour: colour))
        if !appendix.isEmpty { print(appendix) }
    }
    if document.cases.contains(where: { $0.status == .failed }) { throw ExitCode(ExitStatus.caseFailed) }
}

struct RunDemandPaging: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: DemandPagingScenario.name,
        abstract: "Demand paging: every vCPU touches its memory for the first time (KVM page-fault throughput), then again.",
        discussion: """
        Reports the first-touch time, per-vCPU times (the slowest vCPU is vcpu_time_max), the demand-paging rate (pages/s overall and per vCPU), the second-pass time, and the KVM stats deltas (pf_taken, pf_fixed, pages_4k, ...). The timed region is each vCPU's KVM_RUN loop for one pass, between two CLOCK_MONOTONIC reads.

        With --uffd missing|minor every first touch is served by host handler threads through userfaultfd (UFFDIO_COPY or UFFDIO_CONTINUE), one userfaultfd per vCPU region unless --uffd-shared. The handlers report per-fault handler latency percentiles (uffd_handler_latency_p50/p90/p99/max: handler wake-up to resolution done, without --uffd-delay), the vCPU side (uffd_vcpu_time_per_fault: each vCPU's first-touch time per fault it sent to the handlers) and the pages they resolved, which must equal the host pages the guest touched (else the case fails).

        A sweep over two or more vCPU counts (--vcpus 1,2,4) ends with a scaling table: rate per count, rate per vCPU, the ideal linear line (n x the single-vCPU rate) and the efficiency, which is also stored on each case as scaling_efficiency.
        """)

    @OptionGroup var guest: GuestOptions
    @Option(help: "Serve first-touch faults through userfaultfd: none, missing (UFFDIO_COPY) or minor (UFFDIO_CONTINUE; needs --backing shmem or shared-hugetlb). A list runs one case each.")
    var uffd: String?
    @Flag(name: .customLong("uffd-shared"), help: "One userfaultfd (and its readers) for all vCPUs instead of one per vCPU region.")
    var uffdShared = false
    @Option(name: .customLong("uffd-readers"), help: "Handler threads reading each userfaultfd (1-64, default 1).")
    var uffdReaders: String?
    @Option(name: .customLong("uffd-delay"), help: "Artificial delay before each resolution, e.g. 10us (a plain number is microseconds).")
    var uffdDelay: String?
    // --- pre-fault (issue 17) ---
    @Option(help: "How KVM's mappings are populated: guest (first touch, the default) or pre-fault (KVM_PRE_FAULT_MEMORY before the guest runs; TDP hosts only, else unsupported). A list runs one case each.")
    var populate: String?
    @OptionGroup var output: OutputOptions

    var lists: [String: [String]] {
        var out = guest.lists
        if let populate { out["populate"] = splitList(populate) }
        if let uffd { out["uffd"] = splitList(uffd) }
        if uffdShared { out["uffd_shared"] = ["true"] }
        if let uffdReaders { out["uffd_readers"] = splitList(uffdReaders) }
        if let uffdDelay { out["uffd_delay"] = splitList(uffdDelay) }
        return out
    }

    func run() throws {
        try executeRun(scenario: DemandPagingScenario.self, lists: lists, output: output) { document in
            let series = ScalingView.annotate(&document.cases, rateMetric: "demand_paging_rate")
            let colour = isatty(STDOUT_FILENO) != 0 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
            return renderScaling(series, colour: colour)
        }
    }
}

/// The scaling table of each vCPU sweep: one row per count.
func renderScaling(_ all: [ScalingSeries], colour: Bool) -> String {
    var text = ""
    for series in all {
        let fixed = series.parameters.filter { ["backing", "mem_per_vcpu", "uffd", "access", "guest_page_size"].contains($0.key) }
            .sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        text += "\nscaling of demand_paging_rate over vCPUs [\(fixed)]\n"
        var table = TextTable(columns: [
            .init("vCPUs", .right), .init("rate", .right), .init("per vCPU", .right),
            .init("ideal (n x \(series.baselineVCPUs == 1 ? "1 vCPU" : "\(series.baselineVCPUs) vCPUs / \(series.baselineVCPUs)"))", .right),
            .init("efficiency", .right),
        ])
        for row in series.rows {
            table.append([
                .init("\(row.vcpus)"), .init(UnitFormatting.format(row.rate, unit: "pages/s")),
                .init(UnitFormatting.format(row.ratePerVCPU, unit: "pages/s")),
                .init(UnitFormatting.format(row.ideal, unit: "pages/s")),
                .init(String(format: "%.0f%%", row.efficiency * 100)),
            ])
        }
        text += table.render(colour: colour)
    }
    return text
}
