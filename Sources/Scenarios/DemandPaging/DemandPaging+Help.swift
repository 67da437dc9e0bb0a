import Results

/// What `kvmbench run demand-paging --help` says about this scenario.
extension DemandPagingScenario {
    public static let abstract = "Demand paging: every vCPU touches its memory for the first time (KVM page-fault throughput), then again."
    public static let discussion = """
    Reports the first-touch time, per-vCPU times (the slowest vCPU is vcpu_time_max), the demand-paging rate (pages/s overall and per vCPU), the second-pass time, and the KVM stats deltas (pf_taken, pf_fixed, pages_4k, ...). The timed region is each vCPU's KVM_RUN loop for one pass, between two CLOCK_MONOTONIC reads.

    With --uffd missing|minor every first touch is served by host handler threads through userfaultfd (UFFDIO_COPY or UFFDIO_CONTINUE), one userfaultfd per vCPU region unless --uffd-shared. The handlers report per-fault handler latency percentiles (uffd_handler_latency_p50/p90/p99/max: handler wake-up to resolution done, without --uffd-delay), the vCPU side (uffd_vcpu_time_per_fault: each vCPU's first-touch time per fault it sent to the handlers) and the pages they resolved, which must equal the host pages the guest touched (else the case fails).

    A sweep over two or more vCPU counts (--vcpus 1,2,4) ends with a scaling table: rate per count, rate per vCPU, the ideal linear line (n x the single-vCPU rate) and the efficiency, which is also stored on each case as scaling_efficiency.
    """

    public static let reportAppendix: ReportAppendix? = .scaling(rateMetric: metrics.demandPagingRate.name)

    /// `scaling_efficiency` of every case of a vCPU sweep (cases that differ only in `vcpus`).
    public static func deriveMetrics(over cases: inout [CaseResult]) {
        ScalingView.annotate(&cases, rateMetric: metrics.demandPagingRate.name, efficiency: metrics.scalingEfficiency)
    }
}
