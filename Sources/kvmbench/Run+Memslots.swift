import Scenarios

extension MemslotsScenario: ScenarioCommand {
    static let abstract = "Memslot scalability (memslot_perf_test): slot setup time and map/unmap/unmap-2m/move-active/move-inactive/rw with N memslots."
    static let discussion = """
    The test memory (--mem-per-vcpu x --vcpus, default 512 MiB as in the selftest) is split evenly across \
    --slots memslots, the last taking the remainder; creating them all is timed on its own (slot_setup_time). \
    Each test then runs on a fresh VM for --duration and reports the best and average time per iteration. \
    map uses a 32 MiB area (so at most 8192 slots), unmap and unmap-2m 128 MiB; a test that cannot run at \
    the slot count is reported as not run, with the reason. --slots above the host's maximum \
    (KVM_CAP_NR_MEMSLOTS less kvmbench's slot 0) runs at the maximum, with a notice. \
    Where the host refuses an in-place KVM_MR_MOVE, the move tests measure delete + create (move_method).
    """
}

extension MemslotStressScenario: ScenarioCommand {
    static let abstract = "Add and delete a memslot while the vCPUs run (memslot_modification_stress_test): ioctl latencies and the guest's slowdown."
    static let discussion = """
    While every vCPU keeps walking its memory, a one-page slot right past the test memory is added and deleted \
    --cycles times; each KVM_SET_USER_MEMORY_REGION is timed (p50/p90/p99/max). The vCPUs' access rate is \
    compared with a quiet run of the same length (rate_drop). With the zap-all quirk every delete zaps every \
    shadow page, so the guest refaults all its memory; --no-zap-all-quirk shows the difference.
    """
}

extension ZapAllScenario: ScenarioCommand {
    static let abstract = "Cost of zapping a populated guest: slot delete with and without the zap-all quirk, dirty logging, MMU notifier."
    static let discussion = """
    Defaults to the seed's guest: 6 vCPUs, 2 GiB in total. Each trigger runs --runs times (default 10) on a \
    freshly populated MMU; reported are the mean trigger time (the ioctl or madvise), the mean time for the \
    vCPUs to fault everything back in (one pass), and per trigger the KVM stats of the last run \
    (mmu_shadow_zapped, pages_4k before/after, remote_tlb_flush, ...). Triggers: unrelated-slot, \
    unrelated-slot-no-quirk (a second VM with KVM_X86_QUIRK_SLOT_ZAP_ALL disabled), populated-slot, \
    dirty-log, mmu-notifier.
    """
}
