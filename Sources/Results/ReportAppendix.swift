/// A table a scenario wants printed after its result tables, over all of its finished cases.
/// Scenarios declare it; Reporting draws it; the command line prints it after `run` and `suite` alike.
public enum ReportAppendix: Sendable, Equatable {
    /// One table per vCPU sweep: rate per count, rate per vCPU, the ideal linear line and the
    /// efficiency (`ScalingView`), of the metric `rateMetric`.
    case scaling(rateMetric: String)
    /// The VM's mapping counts after each step (`phase_stats` "after.<step>"), `steps` in order,
    /// with the metric that timed each step.
    case mappingSteps(steps: [String], stepTimes: [String: String])
}
