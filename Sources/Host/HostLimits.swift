import Backings

/// What the host allows, read once before any VM is created.
public struct HostLimits: Sendable {
    public var maxVCPUs: Int
    public var memslots: Int
    public var memAvailable: UInt64?
    /// CPUs the kernel has online, and those this process may run on (for `--pin`).
    public var onlineCPUs: [Int] = Placement.onlineCPUs()
    public var allowedCPUs: [Int] = Placement.allowedCPUs()
    /// NUMA nodes this process may allocate memory on (for `--numa-node`).
    public var numaNodes: [Int] = NUMAHost.nodes()
    /// Largest dirty ring per vCPU in bytes (KVM_CAP_DIRTY_LOG_RING_ACQ_REL or _RING; 0: none).
    public var dirtyRingMaxBytes = 0
    /// KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2: the manual-protect flags this host accepts (0: none).
    public var manualDirtyLogProtectFlags = 0
    public init(maxVCPUs: Int, memslots: Int, memAvailable: UInt64?) {
        self.maxVCPUs = maxVCPUs
        self.memslots = memslots
        self.memAvailable = memAvailable
    }

    /// Slots kvmbench keeps for itself (slot 0: code and page tables).
    public static let reservedSlots = 1
    /// The most test memslots a scenario may ask for.
    public var usableSlots: Int { memslots - Self.reservedSlots }
}

