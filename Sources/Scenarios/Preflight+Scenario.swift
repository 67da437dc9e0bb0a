import Backings
import Host

extension Scenario {
    /// What this case takes from the host, read from its recorded parameters (every scenario
    /// records vcpus, mem_per_vcpu and backing) and the parameters it was given (`reserve_hugepages`
    /// is not recorded). nil when the parameters do not say.
    public func preflightDemand(number: Int, given: [String: String]) -> PreflightDemand? {
        let p = given.merging(parameters) { $1 }
        guard let vcpus = p["vcpus"].flatMap({ Int($0) }), vcpus >= 1,
              let perVCPU = p["mem_per_vcpu"].flatMap(parseSize),
              let backing = p["backing"].flatMap(BackingKind.init(rawValue:)) else { return nil }
        let shared = p["shared_region"] == "true"
        let reserve = ["true", "yes", "1", "on"].contains(p["reserve_hugepages"]?.lowercased() ?? "")
        var extra = 0
        if let uffd = p["uffd"], uffd != "none" {
            // One userfaultfd per vCPU region (or one for all), an epoll fd per reader, and the
            // readers' stop eventfd.
            let readers = p["uffd_readers"].flatMap { Int($0) } ?? 1
            extra = (p["uffd_shared"] == "true" || shared ? 1 : vcpus) * (1 + readers) + 1
        }
        let label = "case \(number) (\(Self.name) vcpus=\(vcpus) mem_per_vcpu=\(p["mem_per_vcpu"] ?? "?") backing=\(backing.rawValue))"
        return PreflightDemand(label: label, vcpus: vcpus, testSize: shared ? perVCPU : perVCPU * UInt64(vcpus),
                               backing: backing, reserveHugepages: reserve, extraFiles: extra, bufferBytes: hostBufferBytes)
    }

    /// Placement notices of this case (a NUMA option on a one-node host), from its parameters.
    public var placementNotices: [String] {
        if let node = parameters["numa_node"] { return PlacementNotice.singleNode(flag: "--numa-node \(node)").map { [$0] } ?? [] }
        if parameters["numa_interleave"] == "true" { return PlacementNotice.singleNode(flag: "--numa-interleave").map { [$0] } ?? [] }
        return []
    }
}
