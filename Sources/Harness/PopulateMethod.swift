import Parameters

/// How demand-paging and dirty-logging populate KVM's mappings of the test memory (`--populate`).
public enum PopulateMethod: String, CaseIterable, Sendable {
    /// The vCPUs touch every page; each first touch is a KVM page fault (the selftests' way).
    case guest
    /// KVM_PRE_FAULT_MEMORY (6.10) through each vCPU's fd maps its region into the MMU before the
    /// guest runs. x86 KVM serves it only with TDP: elsewhere the case is unsupported, decided
    /// before anything is timed. KVM maps as a read: never-written private anonymous memory maps
    /// the shared zero page (read-only), so the guest's first writes still fault unless the host
    /// populated the backing first (`--host-prefault`); guest_memfd allocates on any fault.
    case preFault = "pre-fault"

    /// `--populate`, declared once for both scenarios' tables.
    public static let parameter = Parameter<PopulateMethod>.choice(
        "populate", help: "how KVM's mappings are populated: guest (first touch by the vCPUs) or pre-fault (KVM_PRE_FAULT_MEMORY, TDP hosts only)",
        default: .guest, valueName: "method")
}
