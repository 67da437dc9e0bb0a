import Parameters
import Backings
import GuestPrograms
import Host

/// The parameters every guest understands, declared once. Scenarios build their tables from
/// `all`, replacing an entry to give it their own default (`vcpus.defaulting(to: 6)`).
public enum GuestParameters {
    public static let vcpus = Parameter<Int>.int(
        "vcpus", help: "vCPU counts, e.g. 1,2,4,8 (a sweep gives a scaling curve)", default: 1,
        allowed: "1...KVM_CAP_MAX_VCPUS")
    public static let memoryPerVCPU = Parameter<UInt64>.size(
        "mem_per_vcpu", help: "guest memory each vCPU touches, e.g. 256M, 1G", default: 64 << 20,
        allowed: "a multiple of the backing's page size, within MemAvailable")
    public static let backing = Parameter<BackingKind>.choice(
        "backing", help: "host memory backing the guest", default: .anonymous4k)
    public static let guestPageSize = Parameter<GuestPageSize>.choice(
        "guest_page_size", help: "guest page-table page size", default: .size4k, valueName: "size")
    public static let slots = Parameter<Int>.int(
        "slots", help: "memslots the test memory is split across", default: 1,
        allowed: "1...KVM_CAP_NR_MEMSLOTS less kvmbench's slot 0")
    public static let access = Parameter<AccessPattern>.choice(
        "access", help: "order in which each vCPU visits its pages", default: .sequential, valueName: "order")
    public static let writePercent = Parameter<Int>.int(
        "write_percent", help: "percentage of accesses that write", default: 100, allowed: "0...100", valueName: "percent")
    public static let seed = Parameter<Int>.int(
        "seed", help: "seed of the per-vCPU random generators", default: 1, range: 0...Int.max,
        allowed: "0 or more")
    public static let sharedRegion = Parameter<Bool>.bool(
        "shared_region", help: "all vCPUs access one shared region (contention on the same pages)")
    public static let hostPrefault = Parameter<Bool>.bool(
        "host_prefault", help: "populate the host backing before the guest runs: isolates KVM's fault cost from host page allocation")
    public static let guestADBits = Parameter<GuestADBits>.choice(
        "guest_ad_bits", help: "Accessed/Dirty bits in the guest's page tables: preset (as Linux guests have them) or clear (measures KVM's A/D-update path)",
        default: .preset, valueName: "preset|clear")
    public static let reserveHugepages = Parameter<Bool>.bool(
        "reserve_hugepages", help: "let kvmbench grow hugetlb pools as needed; they are restored afterwards")
    public static let pin = Parameter<String>.text(
        "pin", help: "vCPU thread placement: none, auto (one CPU per vCPU, cores before SMT siblings; main thread and fault handlers on the cores left over), or CPUs like 0,1 or 0-3 (one per vCPU, optionally one more for the main thread). Several placements: none,auto or 'auto;0,1'",
        default: "none", allowed: "none, auto, or a CPU list of this host", valueName: "none|auto|cpus",
        sweep: .custom(splitPlacements))
    public static let numaNode = Parameter<Int>.int(
        "numa_node", help: "bind the guest's test memory to this NUMA node (mbind MPOL_BIND before first touch); the result reports where sampled pages landed",
        default: nil, range: 0...Int(Int32.max), allowed: "a NUMA node of this host with memory", valueName: "node",
        note: "none (the default memory policy)")
    public static let numaInterleave = Parameter<Bool>.bool(
        "numa_interleave", help: "interleave the guest's test memory over every NUMA node (mbind MPOL_INTERLEAVE)")

    /// Every guest parameter, in the order help shows them.
    public static let all: [any ParameterDeclaration] = [
        vcpus, memoryPerVCPU, backing, guestPageSize, slots, access, writePercent, seed, sharedRegion,
        hostPrefault, guestADBits, reserveHugepages, pin, numaNode, numaInterleave,
    ]

    /// The table of a scenario that takes only the guest's parameters, with their plain defaults.
    public static let table = ParameterTable(all)
}

/// `--pin` values: placements are separated by ';', or by ',' when every item is a keyword
/// (`none,auto`); otherwise the value is one CPU list (`0,1` pins two vCPUs, it is not two cases).
@Sendable public func splitPlacements(_ text: String) -> [String] {
    if text.contains(";") {
        return text.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
    let items = splitList(text)
    if items.allSatisfy({ ["none", "auto"].contains($0.lowercased()) }) { return items }
    return [text.trimmingCharacters(in: .whitespaces)]
}

extension GuestConfiguration {
    /// Reads the guest keys of `parameters` (bound to the scenario's table, which gives the
    /// defaults), validated against `limits`.
    public init(parameters p: ParameterSet, limits: HostLimits) throws(ParameterError) {
        self.init()
        vcpus = try p.value(GuestParameters.vcpus)
        memoryPerVCPU = try p.value(GuestParameters.memoryPerVCPU)
        backing = try p.value(GuestParameters.backing)
        guestPageSize = try p.value(GuestParameters.guestPageSize)
        slots = try p.value(GuestParameters.slots)
        access = try p.value(GuestParameters.access)
        writePercent = try p.value(GuestParameters.writePercent)
        seed = UInt64(try p.value(GuestParameters.seed))
        sharedRegion = try p.value(GuestParameters.sharedRegion)
        hostPrefault = try p.value(GuestParameters.hostPrefault)
        guestADBits = try p.value(GuestParameters.guestADBits)
        reserveHugepages = try p.value(GuestParameters.reserveHugepages)
        try readPlacement(p, limits: limits)
        if let problem = problem(limits: limits) { throw ParameterError(problem) }
    }

    /// The parameters as recorded in results (`vcpus: "4"`, `backing: "thp"`, ...).
    public var recorded: [String: String] {
        Dictionary(uniqueKeysWithValues: [
            GuestParameters.vcpus.recorded(vcpus), GuestParameters.memoryPerVCPU.recorded(memoryPerVCPU),
            GuestParameters.backing.recorded(backing), GuestParameters.guestPageSize.recorded(guestPageSize),
            GuestParameters.slots.recorded(slots), GuestParameters.access.recorded(access),
            GuestParameters.writePercent.recorded(writePercent), GuestParameters.sharedRegion.recorded(sharedRegion),
            GuestParameters.hostPrefault.recorded(hostPrefault), GuestParameters.seed.recorded(Int(seed)),
            GuestParameters.guestADBits.recorded(guestADBits),
        ]).merging(recordedPlacement) { $1 }
    }
}
