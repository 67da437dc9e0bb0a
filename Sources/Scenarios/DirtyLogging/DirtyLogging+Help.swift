import Results

/// What `kvmbench run dirty-logging --help` says about this scenario.
extension DirtyLoggingScenario {
    public static let abstract = "Dirty logging (dirty_log_perf_test): populate, enable logging, dirty + get/clear or harvest per iteration, disable; every harvest verified."
    public static let discussion = """
    Phases, each timed on its own: populate (first write of all memory), enable dirty logging (KVM_MEM_LOG_DIRTY_PAGES on every test slot), then per iteration the dirty pass (all vCPUs writing), the collection of dirty pages (KVM_GET_DIRTY_LOG, plus KVM_CLEAR_DIRTY_LOG in the manual modes; in ring mode the harvest of every vCPU's ring and KVM_RESET_DIRTY_RINGS), then disabling logging and one rebuild pass. Totals and averages over iterations are reported, and each iteration as iteration.N.*.

    Every write stores the iteration number in its page. After each iteration, outside the timed regions, the host finds the pages holding that number and fails the case if KVM did not report one of them ("dirty log missed page at GPA ..."); the walk is reported as verify_time.

    Modes: bitmap (KVM_GET_DIRTY_LOG), manual (KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 + KVM_CLEAR_DIRTY_LOG), manual-initially-set (the same with KVM_DIRTY_LOG_INITIALLY_SET), ring (KVM_CAP_DIRTY_LOG_RING, --ring-size entries per vCPU; full rings exit with KVM_EXIT_DIRTY_RING_FULL and are harvested on the vCPU's thread).

    --concurrent: the vCPUs write continuously while the host harvests in a loop for --duration seconds; reports the guest's dirty rate and the harvest throughput.

    --populate pre-fault: the populate phase is KVM_PRE_FAULT_MEMORY instead of the vCPUs' write pass (needs --host-prefault; TDP hosts only, else unsupported).
    """
}
