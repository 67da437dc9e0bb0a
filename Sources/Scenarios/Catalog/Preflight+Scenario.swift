import Harness
import Backings
import Host

extension Scenario {
    /// What this case takes from the host, read from its recorded parameters (every scenario
    /// records vcpus, mem_per_vcpu and backing) and the parameters it was given (`reserve_hugepages`
    /// is not recorded), each through its declaration. nil when the parameters do not say.
    public func preflightDemand(number: Int, given: [String: String]) -> PreflightDemand? {
        let p = ParameterSet(given.merging(parameters) { $1 })
        guard let vcpus = p.validIfGiven(GuestParameters.vcpus), vcpus >= 1,
              let perVCPU = p.validIfGiven(GuestParameters.memoryPerVCPU),
              let backing = p.validIfGiven(GuestParameters.backing) else { return nil }
        let shared = p.validIfGiven(GuestParameters.sharedRegion) ?? false
        let reserve = p.validIfGiven(GuestParameters.reserveHugepages) ?? false
        let extra = extraFiles(p)
        let label = "case \(number) (\(Self.name) vcpus=\(vcpus) mem_per_vcpu=\(p.string(GuestParameters.memoryPerVCPU.key) ?? "?") backing=\(backing.rawValue))"
        return PreflightDemand(label: label, vcpus: vcpus, testSize: shared ? perVCPU : perVCPU * UInt64(vcpus),
                               backing: backing, reserveHugepages: reserve, extraFiles: extra, bufferBytes: hostBufferBytes)
    }

    /// Placement notices of this case (a NUMA option on a one-node host), from its parameters.
    public var placementNotices: [String] {
        if let node = parameters[GuestParameters.numaNode.key] {
            return PlacementNotice.singleNode(flag: "\(GuestParameters.numaNode.flag) \(node)").map { [$0] } ?? []
        }
        if parameters[GuestParameters.numaInterleave.key] == "true" {
            return PlacementNotice.singleNode(flag: GuestParameters.numaInterleave.flag).map { [$0] } ?? []
        }
        return []
    }
}
