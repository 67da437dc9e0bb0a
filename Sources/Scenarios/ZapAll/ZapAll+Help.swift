import Results

/// What `kvmbench run zap-all --help` says about this scenario.
extension ZapAllScenario {
    public static let abstract = "Cost of zapping a populated guest: slot delete with and without the zap-all quirk, dirty logging, MMU notifier."
    public static let discussion = """
    Defaults to the seed's guest: 6 vCPUs, 2 GiB in total. Each trigger runs --runs times (default 10) on a \
    freshly populated MMU; reported are the mean trigger time (the ioctl or madvise), the mean time for the \
    vCPUs to fault everything back in (one pass), and per trigger the KVM stats of the last run \
    (mmu_shadow_zapped, pages_4k before/after, remote_tlb_flush, ...). Triggers: unrelated-slot, \
    unrelated-slot-no-quirk (a second VM with KVM_X86_QUIRK_SLOT_ZAP_ALL disabled), populated-slot, \
    dirty-log, mmu-notifier.
    """
}
