import Results

/// What `kvmbench run page-table --help` says about this scenario.
extension PageTableScenario {
    public static let abstract = "KVM's mappings under dirty logging (kvm_page_table_test): create, update (split) and rebuild, each timed."
    public static let discussion = """
    Three phases on one VM, each timed from the release of the vCPUs to the last one's sync exit:

      create mappings: every vCPU touches the memory for the first time (huge mappings where possible).
      update mappings: dirty logging is enabled on every test slot, then every vCPU writes the memory (write-protection faults; huge mappings split into 4 KiB ones).
      rebuild blocks: dirty logging is disabled (KVM zaps the mappings that may be huge again), then every vCPU reads the memory (huge mappings come back).

    As in the selftest, every vCPU walks one shared region (--mem-per-vcpu is its size, the selftest's -b; --region private gives each vCPU its own), touching one word per large page while creating mappings (even-numbered vCPUs write, odd ones read), the first host page of each large page (a write) and the pages of its second half (reads) while updating, and every 4 KiB page (reads) while rebuilding; --write-percent N makes each phase's first access to a large page a write N% of the time for every vCPU instead. The host backing is populated before the first phase, so no phase pays for host page allocation (host_minor_faults in each phase's stats).

    The enable/disable ioctls are timed on their own (enable_dirty_log_time, disable_dirty_log_time). The VM's pages_4k/pages_2m/pages_1g are read after every step and printed in a table after the run (phase_stats "after.<step>" in the results). Defaults: --backing thp --guest-page-size 2m --mem-per-vcpu 256M. On a 4 KiB backing, or with 4 KiB guest pages on a shadow-paging host, the case says that huge mappings are impossible.
    """

    public static let reportAppendix: ReportAppendix? = .mappingSteps(steps: boundaries, stepTimes: [
        "create": metrics.createMappingsTime.name, "enable_dirty_log": metrics.enableDirtyLogTime.name,
        "update": metrics.updateMappingsTime.name, "disable_dirty_log": metrics.disableDirtyLogTime.name,
        "rebuild": metrics.rebuildBlocksTime.name,
    ])
}
