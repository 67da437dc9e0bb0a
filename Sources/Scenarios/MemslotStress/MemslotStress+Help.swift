import Results

/// What `kvmbench run memslot-stress --help` says about this scenario.
extension MemslotStressScenario {
    public static let abstract = "Add and delete a memslot while the vCPUs run (memslot_modification_stress_test): ioctl latencies and the guest's slowdown."
    public static let discussion = """
    While every vCPU keeps walking its memory, a one-page slot right past the test memory is added and deleted \
    --cycles times; each KVM_SET_USER_MEMORY_REGION is timed (p50/p90/p99/max). The vCPUs' access rate is \
    compared with a quiet run of the same length (rate_drop). With the zap-all quirk every delete zaps every \
    shadow page, so the guest refaults all its memory; --no-zap-all-quirk shows the difference.
    """
}
