import Scenarios

extension AccessTrackingScenario: ScenarioCommand {
    static let abstract = "Access tracking (access_tracking_perf_test): which aging mechanism reaches KVM's MMU notifier on this host."
    static let discussion = """
    Looks, in this order, for MGLRU (/sys/kernel/mm/lru_gen), idle page tracking \
    (/sys/kernel/mm/page_idle/bitmap) and a DAMON kdamond kvmbench could run for virtual-address monitoring of its \
    own pid (/sys/kernel/mm/damon). It only reads those files. The case is reported unsupported with what was \
    found: the timed phases (populate, write/read populated, mark idle, write/read idle, aging time) are not built yet.
    """
}
