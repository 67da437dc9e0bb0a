import CKVM

/// The KVM capabilities kvmbench asks about (KVM_CHECK_EXTENSION), named as in the KVM API document.
public enum Capability: Int32, CaseIterable, Sendable, CustomStringConvertible {
    case nrVCPUs = 9
    case nrMemslots = 10
    case maxVCPUs = 66
    case multiAddressSpace = 118
    case manualDirtyLogProtect2 = 168
    case dirtyLogRing = 192
    case binaryStatsFD = 203
    case disableQuirks2 = 213
    case dirtyLogRingAcqRel = 223
    case dirtyLogRingWithBitmap = 225
    case userMemory2 = 231
    case memoryFaultInfo = 232
    case memoryAttributes = 233
    case guestMemfd = 234
    case vmTypes = 235
    case preFaultMemory = 236
    /// The guest_memfd flags this host accepts (a mask of GUEST_MEMFD_FLAG_*; 6.18).
    case guestMemfdFlags = 244

    /// The name the KVM API document uses (`KVM_CAP_NR_MEMSLOTS`).
    public var description: String {
        switch self {
        case .nrVCPUs: "KVM_CAP_NR_VCPUS"
        case .nrMemslots: "KVM_CAP_NR_MEMSLOTS"
        case .maxVCPUs: "KVM_CAP_MAX_VCPUS"
        case .multiAddressSpace: "KVM_CAP_MULTI_ADDRESS_SPACE"
        case .manualDirtyLogProtect2: "KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2"
        case .dirtyLogRing: "KVM_CAP_DIRTY_LOG_RING"
        case .binaryStatsFD: "KVM_CAP_BINARY_STATS_FD"
        case .disableQuirks2: "KVM_CAP_DISABLE_QUIRKS2"
        case .dirtyLogRingAcqRel: "KVM_CAP_DIRTY_LOG_RING_ACQ_REL"
        case .dirtyLogRingWithBitmap: "KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP"
        case .userMemory2: "KVM_CAP_USER_MEMORY2"
        case .memoryFaultInfo: "KVM_CAP_MEMORY_FAULT_INFO"
        case .memoryAttributes: "KVM_CAP_MEMORY_ATTRIBUTES"
        case .guestMemfd: "KVM_CAP_GUEST_MEMFD"
        case .vmTypes: "KVM_CAP_VM_TYPES"
        case .preFaultMemory: "KVM_CAP_PRE_FAULT_MEMORY"
        case .guestMemfdFlags: "KVM_CAP_GUEST_MEMFD_FLAGS"
        }
    }
}

/// x86 quirks that KVM_CAP_DISABLE_QUIRKS2 can turn off.
public struct X86Quirks: OptionSet, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// Deleting or moving any memslot zaps every shadow/TDP page of the VM, not just the slot's.
    public static let slotZapAll = X86Quirks(rawValue: UInt64(KVM_X86_QUIRK_SLOT_ZAP_ALL))
}
