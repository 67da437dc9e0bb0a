import Results

/// What `kvmbench run mmu-stress --help` says about this scenario.
extension MMUStressScenario {
    public static let abstract = "Invalidation racing with faults (mmu_stress_test): vCPUs write while host threads mprotect, discard and remap their memory."
    public static let discussion = """
    Three host threads take the guest's memory away in --chunk pieces (default 2M) while every vCPU keeps writing it: \
    mprotect read-only and back, MADV_DONTNEED, munmap + mmap. Every system call is timed \
    (mprotect_latency, discard_latency, remap_latency: p50/p90/p99/max); a vCPU writing a chunk that is read-only or \
    unmapped at that moment gets EFAULT from KVM_RUN and retries (efault_retries). The vCPUs' access rate under the \
    storm is compared with a quiet run as long as all storms (rate_drop).

    After each of --cycles storms (each --cycle-duration, default 50ms) comes a check point: every page is written \
    with its address plus a token, one chunk per vCPU region is discarded and the next remapped, the memory is made \
    read-only, and the guest reads every page back through KVM's mappings: the token where memory was kept, zero in \
    the two chunks. A wrong value fails the case with the guest address. Backings: anonymous-4k (default) or thp.
    """
}
