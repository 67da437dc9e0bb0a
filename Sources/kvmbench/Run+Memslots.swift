import ArgumentParser
import Scenarios

struct RunMemslots: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: MemslotsScenario.name,
        abstract: "Memslot scalability (memslot_perf_test): slot setup time and map/unmap/unmap-2m/move-active/move-inactive/rw with N memslots.",
        discussion: """
        The test memory (--mem-per-vcpu x --vcpus, default 512 MiB as in the selftest) is split evenly across \
        --slots memslots, the last taking the remainder; creating them all is timed on its own (slot_setup_time). \
        Each test then runs on a fresh VM for --duration and reports the best and average time per iteration. \
        map uses a 32 MiB area (so at most 8192 slots), unmap and unmap-2m 128 MiB; a test that cannot run at \
        the slot count is reported as not run, with the reason. --slots above the host's maximum \
        (KVM_CAP_NR_MEMSLOTS less kvmbench's slot 0) runs at the maximum, with a notice. \
        Where the host refuses an in-place KVM_MR_MOVE, the move tests measure delete + create (move_method).
        """)

    @Option(help: "vCPU counts (default 1, as the selftest's single worker); they share each test's guest work.")
    var vcpus: String?
    @Option(name: .customLong("mem-per-vcpu"), help: "Guest memory per vCPU; the whole test area is this times --vcpus (default 512M in total).")
    var memPerVCPU: String?
    @Option(help: "Test memslot counts, e.g. 10,100,509,8192,32768 (default, or max: the host maximum).")
    var slots: String?
    @Option(help: "Host backing: anonymous-4k (default) or shmem.")
    var backing: String?
    @Option(help: "How long each test repeats its operation, e.g. 2s, 500ms (default 2s).")
    var duration: String?
    @Option(help: "Tests to run, comma-separated (one case runs them all): map, unmap, unmap-2m, move-active, move-inactive, rw.")
    var tests: String?
    @Flag(name: .customLong("no-zap-all-quirk"), help: "Disable KVM_X86_QUIRK_SLOT_ZAP_ALL (KVM_CAP_DISABLE_QUIRKS2) before creating slots.")
    var noZapAllQuirk = false
    @Option(name: .customLong("move-method"), help: "How the move tests move the slot: auto (in place where the host allows, else delete + create), in-place, delete-create.")
    var moveMethod: String?
    @OptionGroup var output: OutputOptions

    func run() throws {
        var lists: [String: [String]] = [:]
        func put(_ key: String, _ value: String?) { if let value { lists[key] = splitList(value) } }
        put("vcpus", vcpus); put("mem_per_vcpu", memPerVCPU); put("slots", slots); put("backing", backing)
        put("duration", duration); put("move_method", moveMethod)
        if let tests { lists["tests"] = [tests] }
        if noZapAllQuirk { lists["zap_all_quirk"] = ["false"] }
        try executeRun(scenario: MemslotsScenario.self, lists: lists, output: output)
    }
}

struct RunMemslotStress: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: MemslotStressScenario.name,
        abstract: "Add and delete a memslot while the vCPUs run (memslot_modification_stress_test): ioctl latencies and the guest's slowdown.",
        discussion: """
        While every vCPU keeps walking its memory, a one-page slot right past the test memory is added and deleted \
        --cycles times; each KVM_SET_USER_MEMORY_REGION is timed (p50/p90/p99/max). The vCPUs' access rate is \
        compared with a quiet run of the same length (rate_drop). With the zap-all quirk every delete zaps every \
        shadow page, so the guest refaults all its memory; --no-zap-all-quirk shows the difference.
        """)

    @OptionGroup var guest: GuestOptions
    @Option(help: "Add + delete cycles (default 500).")
    var cycles: String?
    @Flag(name: .customLong("no-zap-all-quirk"), help: "Disable KVM_X86_QUIRK_SLOT_ZAP_ALL before creating slots.")
    var noZapAllQuirk = false
    @OptionGroup var output: OutputOptions

    func run() throws {
        var lists = guest.lists
        if let cycles { lists["cycles"] = splitList(cycles) }
        if noZapAllQuirk { lists["zap_all_quirk"] = ["false"] }
        try executeRun(scenario: MemslotStressScenario.self, lists: lists, output: output)
    }
}

struct RunZapAll: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: ZapAllScenario.name,
        abstract: "Cost of zapping a populated guest: slot delete with and without the zap-all quirk, dirty logging, MMU notifier.",
        discussion: """
        Defaults to the seed's guest: 6 vCPUs, 2 GiB in total. Each trigger runs --runs times (default 10) on a \
        freshly populated MMU; reported are the mean trigger time (the ioctl or madvise), the mean time for the \
        vCPUs to fault everything back in (one pass), and per trigger the KVM stats of the last run \
        (mmu_shadow_zapped, pages_4k before/after, remote_tlb_flush, ...). Triggers: unrelated-slot, \
        unrelated-slot-no-quirk (a second VM with KVM_X86_QUIRK_SLOT_ZAP_ALL disabled), populated-slot, \
        dirty-log, mmu-notifier.
        """)

    @OptionGroup var guest: GuestOptions
    @Option(help: "Triggers to measure, comma-separated (one case runs them all).")
    var triggers: String?
    @Option(help: "Runs of each trigger per repetition, averaged (default 10).")
    var runs: String?
    @OptionGroup var output: OutputOptions

    func run() throws {
        var lists = guest.lists
        if let triggers { lists["triggers"] = [triggers] }
        if let runs { lists["runs"] = splitList(runs) }
        try executeRun(scenario: ZapAllScenario.self, lists: lists, output: output)
    }
}
