import Results

/// What `kvmbench run access-tracking --help` says about this scenario.
extension AccessTrackingScenario {
    public static let abstract = "Access tracking (access_tracking_perf_test): vCPUs write and read memory the host aged through KVM's MMU notifier."
    public static let discussion = """
    Phases, each timed per vCPU and overall: populate, write populated, read populated, mark idle (an aging \
    pass: the aging time), write idle, read idle. Aging goes through MGLRU (/sys/kernel/mm/lru_gen and \
    /sys/kernel/debug/lru_gen): kvmbench moves itself into a memory cgroup of its own (recorded in the \
    host-change ledger, removed afterwards) and asks for aging passes over it. Pages found idle and young again \
    are checked against the pages the guest touched (at least 90 %), and the kvm:kvm_age_hva tracepoint, \
    counted on the aging thread, proves KVM's notifier ran. Where the host has no MGLRU (it looks for idle page \
    tracking and a free DAMON kdamond too) the case is unsupported with what it found.
    """
}
