import Results

/// What `kvmbench run memslots --help` says about this scenario.
extension MemslotsScenario {
    public static let abstract = "Memslot scalability (memslot_perf_test): slot setup time and map/unmap/unmap-2m/move-active/move-inactive/rw with N memslots."
    public static let discussion = """
    The test memory (--mem-per-vcpu x --vcpus, default 512 MiB as in the selftest) is split evenly across \
    --slots memslots, the last taking the remainder; creating them all is timed on its own (slot_setup_time). \
    Each test then runs on a fresh VM for --duration and reports the best and average time per iteration. \
    map uses a 32 MiB area (so at most 8192 slots), unmap and unmap-2m 128 MiB; a test that cannot run at \
    the slot count is reported as not run, with the reason. --slots above the host's maximum \
    (KVM_CAP_NR_MEMSLOTS less kvmbench's slot 0) runs at the maximum, with a notice. \
    Where the host refuses an in-place KVM_MR_MOVE, the move tests measure delete + create (move_method).
    """
}
