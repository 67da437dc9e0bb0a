import ArgumentParser
import Scenarios

struct RunAccessTracking: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: AccessTrackingScenario.name,
        abstract: "Access tracking (access_tracking_perf_test): which aging mechanism reaches KVM's MMU notifier on this host.",
        discussion: """
        Looks, in this order, for MGLRU (/sys/kernel/mm/lru_gen), idle page tracking \
        (/sys/kernel/mm/page_idle/bitmap) and a DAMON kdamond kvmbench could run for virtual-address monitoring of its \
        own pid (/sys/kernel/mm/damon). It only reads those files. The case is reported unsupported with what was \
        found: the timed phases (populate, write/read populated, mark idle, write/read idle, aging time) are not built yet.
        """)

    @OptionGroup var guest: GuestOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        try executeRun(scenario: AccessTrackingScenario.self, lists: guest.lists, output: output)
    }
}
