import ArgumentParser
import Scenarios

struct RunDirtyLogging: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: DirtyLoggingScenario.name,
        abstract: "Dirty logging (dirty_log_perf_test): populate, enable logging, dirty + get/clear or harvest per iteration, disable; every harvest verified.",
        discussion: """
        Phases, each timed on its own: populate (first write of all memory), enable dirty logging (KVM_MEM_LOG_DIRTY_PAGES on every test slot), then per iteration the dirty pass (all vCPUs writing), the collection of dirty pages (KVM_GET_DIRTY_LOG, plus KVM_CLEAR_DIRTY_LOG in the manual modes; in ring mode the harvest of every vCPU's ring and KVM_RESET_DIRTY_RINGS), then disabling logging and one rebuild pass. Totals and averages over iterations are reported, and each iteration as iteration.N.*.

        Every write stores the iteration number in its page. After each iteration, outside the timed regions, the host finds the pages holding that number and fails the case if KVM did not report one of them ("dirty log missed page at GPA ..."); the walk is reported as verify_time.

        Modes: bitmap (KVM_GET_DIRTY_LOG), manual (KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 + KVM_CLEAR_DIRTY_LOG), manual-initially-set (the same with KVM_DIRTY_LOG_INITIALLY_SET), ring (KVM_CAP_DIRTY_LOG_RING, --ring-size entries per vCPU; full rings exit with KVM_EXIT_DIRTY_RING_FULL and are harvested on the vCPU's thread).

        --concurrent: the vCPUs write continuously while the host harvests in a loop for --duration seconds; reports the guest's dirty rate and the harvest throughput.
        """)

    @OptionGroup var guest: GuestOptions
    @Option(name: .customLong("dirty-mode"), help: "bitmap, manual, manual-initially-set or ring (comma-separated for several cases). Default bitmap.")
    var dirtyMode: String?
    @Option(help: "Dirty passes after logging is enabled, at least 2. Default 2.")
    var iterations: String?
    @Option(name: .customLong("ring-size"), help: "Dirty ring entries per vCPU (ring mode): a power of two from 256 (one 4 KiB page) to the host maximum. Default 4096.")
    var ringSize: String?
    @Flag(help: "Harvest in a loop while the vCPUs keep writing, instead of iterations.")
    var concurrent = false
    @Option(help: "Seconds of the concurrent harvest loop. Default 2.")
    var duration: String?
    @Flag(name: .customLong("keep-running-on-disable"), help: "vCPUs keep writing while dirty logging is turned off.")
    var keepRunningOnDisable = false
    // --- pre-fault (issue 17) ---
    @Option(help: "The populate phase: guest (the vCPUs' write pass, the default) or pre-fault (KVM_PRE_FAULT_MEMORY; needs --host-prefault; TDP hosts only, else unsupported).")
    var populate: String?
    @OptionGroup var output: OutputOptions

    func run() throws {
        var lists = guest.lists
        func put(_ key: String, _ value: String?) { if let value { lists[key] = splitList(value) } }
        put("dirty_mode", dirtyMode)
        put("iterations", iterations)
        put("ring_size", ringSize)
        put("duration", duration)
        put("populate", populate)
        if concurrent { lists["concurrent"] = ["true"] }
        if keepRunningOnDisable { lists["keep_running_on_disable"] = ["true"] }
        try executeRun(scenario: DirtyLoggingScenario.self, lists: lists, output: output)
    }
}
