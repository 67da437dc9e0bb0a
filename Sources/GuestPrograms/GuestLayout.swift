/// Page size of the guest's own page tables for the test memory (`--guest-page-size`).
public enum GuestPageSize: String, CaseIterable, Sendable {
    case size4k = "4k"
    case size2m = "2m"

    public var bytes: UInt64 { self == .size4k ? 4096 : 2 << 20 }
}

/// Where everything lives in guest-physical (= guest-virtual, identity-mapped) memory.
///
/// The low "system" region (memslot 0, never measured) holds the descriptor tables, code, one
/// parameter block and stack per vCPU, and the page tables. The test memory that
/// scenarios measure starts at `testBase` (4 GiB) and may be split across many memslots.
public struct GuestLayout: Sendable, Equatable {
    public static let gdtAddress: UInt64 = 0x1000
    public static let tssAddress: UInt64 = 0x6000
    public static let idtAddress: UInt64 = 0x3000
    /// The CPL3 workload.
    public static let userCodeAddress: UInt64 = 0x5000
    public static let parameterBlocksAddress: UInt64 = 0x10000
    public static let parameterBlockSize: UInt64 = 64
    /// Per-vCPU user stacks (64 bytes each; the workload makes no calls).
    public static let stacksAddress: UInt64 = 0x20000
    public static let stackSize: UInt64 = 64
    public static let pageTablesAddress: UInt64 = 0x40000
    public static let maxVCPUs = 1024
    /// Guest-physical start of the test memory: 4 GiB, 1 GiB-aligned, above any PCI hole.
    public static let defaultTestBase: UInt64 = 1 << 32

    /// Selectors of the GDT that `DescriptorTables` writes (Linux's layout).
    public static let kernelCodeSelector: UInt16 = 0x08
    public static let kernelDataSelector: UInt16 = 0x10
    public static let userDataSelector: UInt16 = 0x2B
    public static let userCodeSelector: UInt16 = 0x33
    public static let tssSelector: UInt16 = 0x40

    /// I/O port the workload writes to once per pass ("sync exit").
    public static let syncPort: UInt16 = 0x1000

    public let vcpuCount: Int
    public let testBase: UInt64
    public let testSize: UInt64
    public let guestPageSize: GuestPageSize
    /// Bytes of page tables for the system region and the test memory.
    public let pageTableBytes: UInt64
    /// Size of the system region (slot 0), a multiple of 2 MiB.
    public let systemSize: UInt64

    public init(vcpuCount: Int, testSize: UInt64, guestPageSize: GuestPageSize, testBase: UInt64 = GuestLayout.defaultTestBase) {
        self.vcpuCount = vcpuCount
        self.testBase = testBase
        self.testSize = testSize
        self.guestPageSize = guestPageSize
        let plan = PageTablePlan(testBase: testBase, testSize: testSize, pageSize: guestPageSize, systemSize: 0)
        // The system region maps itself with 2 MiB pages; its size only grows the PD by a few entries.
        let tables = plan.tableBytesIgnoringSystem + 4 * 4096
        pageTableBytes = tables
        let end = Self.pageTablesAddress + tables
        systemSize = (end + (2 << 20) - 1) / (2 << 20) * (2 << 20)
    }

    public func parameterBlockAddress(vcpu: Int) -> UInt64 {
        Self.parameterBlocksAddress + UInt64(vcpu) * Self.parameterBlockSize
    }

    public func stackTop(vcpu: Int) -> UInt64 {
        Self.stacksAddress + UInt64(vcpu + 1) * Self.stackSize
    }

    /// Guest-physical address of the PML4 (CR3).
    public var pml4Address: UInt64 { Self.pageTablesAddress }
}
