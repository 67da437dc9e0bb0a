import Host
import Results

/// Access tracking (the kernel selftests' access_tracking_perf_test): the host ages guest memory
/// through KVM's MMU notifier (clear_young / test_young: kvm_age_gfn, kvm_test_age_gfn), and the
/// vCPUs write and read memory that was marked idle.
///
/// The aging needs a host mechanism that reaches that notifier, in this order: MGLRU
/// (/sys/kernel/mm/lru_gen), idle page tracking (/sys/kernel/mm/page_idle/bitmap), or DAMON
/// virtual-address monitoring of kvmbench's own pid through a kdamond of its own. This version
/// probes for them and reports the case unsupported with the precise reason; the timed phases
/// (populate, write/read populated, mark idle, write/read idle) are not built yet.
public struct AccessTrackingScenario: Scenario {
    public static let name = "access-tracking"
    public static let summary = "age guest memory through KVM's MMU notifier (kvm_age_gfn): probes MGLRU, idle page tracking, DAMON"
    public static let parameterTable = GuestParameters.table

    public var guest: GuestConfiguration
    /// Where the host's aging interfaces are looked for (tests point it at a fake tree).
    var probe = AgingProbe()

    public init(parameters p: ParameterSet, limits: HostLimits) throws(ParameterError) {
        guest = try GuestConfiguration(parameters: try Self.bind(p), limits: limits)
    }

    public var parameters: [String: String] { guest.recorded }

    /// Unsupported on every host for now, with what the host offers (checked before any VM exists).
    public func measure(in context: CaseContext) throws -> Sample {
        switch probe.probe() {
        case .unavailable(let reason):
            throw ScenarioUnsupported("access-tracking needs an aging mechanism that reaches KVM's MMU notifier (kvm_age_gfn): \(reason)")
        case .available(let mechanism):
            throw ScenarioUnsupported("access-tracking: this host offers \(mechanism.rawValue) aging, but kvmbench does not yet drive it (only the probe is built)")
        }
    }
}
