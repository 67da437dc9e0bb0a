import Harness
import Results

/// The metrics `demand-paging` reports (its guest-memfd variant included), declared once.
public struct DemandPagingMetrics: MetricDeclarations {
    public let firstTouchTime = MetricDefinition.seconds("first_touch_time")
    public let vcpuTimeMin = MetricDefinition.seconds("vcpu_time_min", gated: false)
    public let vcpuTimeMedian = MetricDefinition.seconds("vcpu_time_median", gated: false)
    /// The slowest vCPU: the one the whole VM waits for.
    public let vcpuTimeMax = MetricDefinition.seconds("vcpu_time_max")
    public let demandPagingRate = MetricDefinition("demand_paging_rate", unit: .pagesPerSecond, better: .higher)
    /// demand_paging_test's "Per-vcpu demand paging rate": one vCPU's pages over the whole first touch.
    public let ratePerVCPU = MetricDefinition("rate_per_vcpu", unit: .pagesPerSecond, better: .higher)
    public let secondPassTime = MetricDefinition.seconds("second_pass_time")
    public let secondPassPerPage = MetricDefinition("second_pass_per_page", unit: .nanoseconds, better: .lower, gated: false)
    public let hostPagesResidentBefore = MetricDefinition.count("host_pages_resident_before")
    /// KVM page faults (pf_taken) per page touched for the first time.
    public let faultsPerPage = MetricDefinition.count("faults_per_page")
    public let pagesTouched = MetricDefinition.count("pages_touched")

    // userfaultfd (--uffd-mode)
    /// A vCPU's first-touch time over the faults it sent to the handlers.
    public let uffdVCPUTimePerFault = MetricDefinition("uffd_vcpu_time_per_fault", unit: .microseconds, better: .lower, gated: false)
    public let uffdCopies = MetricDefinition.count("uffd_copies")
    public let uffdContinues = MetricDefinition.count("uffd_continues")
    public let uffdMessages = MetricDefinition.count("uffd_messages")
    public let uffdAlreadyPresent = MetricDefinition.count("uffd_eexist")
    /// Handler latency: the handler's wake-up to the fault resolved (not the vCPU's whole wait).
    public let uffdHandlerLatencyP50 = MetricDefinition("uffd_handler_latency_p50", unit: .microseconds, better: .lower)
    public let uffdHandlerLatencyP90 = MetricDefinition("uffd_handler_latency_p90", unit: .microseconds, better: .lower)
    public let uffdHandlerLatencyP99 = MetricDefinition("uffd_handler_latency_p99", unit: .microseconds, better: .lower)
    public let uffdHandlerLatencyMax = MetricDefinition("uffd_handler_latency_max", unit: .microseconds, better: .lower, gated: false)
    public let uffdHandlerLatencyMean = MetricDefinition("uffd_handler_latency_mean", unit: .microseconds, better: .lower, gated: false)
    public let uffdReadP50 = MetricDefinition("uffd_read_p50", unit: .microseconds, better: .lower, gated: false)
    public let uffdResolveP50 = MetricDefinition("uffd_resolve_p50", unit: .microseconds, better: .lower, gated: false)
    public let uffdFaultToReadP50 = MetricDefinition("uffd_fault_to_read_p50", unit: .microseconds, better: .lower, gated: false)
    public let uffdFaultToReadP99 = MetricDefinition("uffd_fault_to_read_p99", unit: .microseconds, better: .lower, gated: false)

    // --populate pre-fault: KVM_PRE_FAULT_MEMORY before the guest runs
    public let preFaultTime = MetricDefinition.seconds("pre_fault_time")
    public let preFaultRate = MetricDefinition("pre_fault_rate", unit: .pagesPerSecond, better: .higher)
    public let preFaultVCPUTimeMax = MetricDefinition.seconds("pre_fault_vcpu_time_max", gated: false)

    // guest-memfd (--backing guest-memfd)
    public let gmemPagesAllocated = MetricDefinition.count("gmem_pages_allocated")
    public let hostPTEsMapped = MetricDefinition.count("host_ptes_mapped")

    /// Added by a sweep over --vcpus (`ScalingView.annotate`): the rate over the ideal linear line.
    public let scalingEfficiency = MetricDefinition("scaling_efficiency", unit: .percent, better: .higher, gated: false)
}

extension DemandPagingScenario: DeclaresMetrics {
    public static let metrics = DemandPagingMetrics()
}
