/// x86-64 page-table entry bits used by kvmbench's guests.
public enum PTE {
    public static let present: UInt64 = 1 << 0
    public static let writable: UInt64 = 1 << 1
    /// U/S: user-accessible. Set at every level, since the measured workload runs at CPL3.
    public static let user: UInt64 = 1 << 2
    public static let accessed: UInt64 = 1 << 5
    public static let dirty: UInt64 = 1 << 6
    /// PS in a PDE: this entry maps a 2 MiB page.
    public static let pageSize: UInt64 = 1 << 7
    public static let addressMask: UInt64 = 0x000F_FFFF_FFFF_F000
    static let table = present | writable | user
}

/// Whether the guest's page tables are built with the Accessed bit set at every level (and Dirty
/// on the writable leaf entries), as Linux guests create them (`--guest-ad-bits`). Under shadow
/// paging KVM prefetches neighbouring PTEs on a fault only if their Accessed bit is set, and with
/// the bits clear it must write them into the guest's tables on every fault: `clear` measures
/// that A/D-update path. With two-dimensional paging the hardware sets them and KVM's faults do
/// not change.
public enum GuestADBits: String, CaseIterable, Sendable {
    case preset, clear
}

/// How many tables of each level an identity map of the test memory needs.
struct PageTablePlan {
    let testBase: UInt64
    let testSize: UInt64
    let pageSize: GuestPageSize
    let systemSize: UInt64

    static func count(_ start: UInt64, _ end: UInt64, span: UInt64) -> UInt64 {
        end <= start ? 0 : (end - 1) / span - start / span + 1
    }

    var tableBytesIgnoringSystem: UInt64 {
        let end = testBase + testSize
        let pdpts = Self.count(testBase, end, span: 1 << 39) + 1
        let pds = Self.count(testBase, end, span: 1 << 30) + 1
        let pts = pageSize == .size4k ? Self.count(testBase, end, span: 2 << 20) : 0
        return (1 + pdpts + pds + pts) * 4096
    }
}

/// Writes identity-mapping page tables for a `GuestLayout` into the system region's host memory.
///
/// The system region [0, systemSize) is mapped with 2 MiB pages; the test memory with 4 KiB or
/// 2 MiB pages as the layout asks. Every entry has the U bit, so CPL3 code may touch it all.
public struct PageTableBuilder {
    let layout: GuestLayout
    /// Host view of guest-physical [0, systemSize).
    let system: UnsafeMutableRawBufferPointer
    /// Bits added to every table entry (Accessed) and to every leaf entry (Accessed | Dirty).
    let tableBits: UInt64
    let leafBits: UInt64
    private var nextTable: UInt64

    public init(layout: GuestLayout, system: UnsafeMutableRawBufferPointer, adBits: GuestADBits = .preset) {
        precondition(UInt64(system.count) >= layout.systemSize, "system region smaller than the layout")
        self.layout = layout
        self.system = system
        tableBits = adBits == .preset ? PTE.accessed : 0
        leafBits = adBits == .preset ? PTE.accessed | PTE.dirty : 0
        nextTable = GuestLayout.pageTablesAddress + 4096 // the PML4 is the first table
    }

    private mutating func allocateTable() -> UInt64 {
        let address = nextTable
        nextTable += 4096
        precondition(nextTable <= GuestLayout.pageTablesAddress + layout.pageTableBytes, "page-table space exhausted")
        // SAFETY: address is inside the system region (checked above against pageTableBytes).
        memset(system.baseAddress! + Int(address), 0, 4096)
        return address
    }

    private func entry(_ table: UInt64, _ index: UInt64) -> UInt64 {
        system.load(fromByteOffset: Int(table + index * 8), as: UInt64.self)
    }

    private func setEntry(_ table: UInt64, _ index: UInt64, _ value: UInt64) {
        system.storeBytes(of: value, toByteOffset: Int(table + index * 8), as: UInt64.self)
    }

    /// The next-level table under `table[index]`, created if absent.
    private mutating func child(_ table: UInt64, _ index: UInt64) -> UInt64 {
        let existing = entry(table, index)
        if existing & PTE.present != 0 { return existing & PTE.addressMask }
        let fresh = allocateTable()
        setEntry(table, index, fresh | PTE.table | tableBits)
        return fresh
    }

    private mutating func map(_ address: UInt64, size: GuestPageSize) {
        let pml4 = layout.pml4Address
        let pdpt = child(pml4, (address >> 39) & 511)
        let pd = child(pdpt, (address >> 30) & 511)
        if size == .size2m {
            setEntry(pd, (address >> 21) & 511, address | PTE.table | PTE.pageSize | leafBits)
        } else {
            let pt = child(pd, (address >> 21) & 511)
            setEntry(pt, (address >> 12) & 511, address | PTE.table | leafBits)
        }
    }

    /// Builds all tables; returns the bytes used.
    @discardableResult
    public mutating func build() -> UInt64 {
        // SAFETY: the PML4 page lies at pageTablesAddress, inside the system region.
        memset(system.baseAddress! + Int(layout.pml4Address), 0, 4096)
        var address: UInt64 = 0
        while address < layout.systemSize {
            map(address, size: .size2m)
            address += 2 << 20
        }
        let step = layout.guestPageSize.bytes
        address = layout.testBase
        while address < layout.testBase + layout.testSize {
            map(address, size: layout.guestPageSize)
            address += step
        }
        return nextTable - GuestLayout.pageTablesAddress
    }
}

/// Walks the page tables the way the MMU does: used by tests to check the tables map what they claim.
public struct PageTableWalker {
    let system: UnsafeRawBufferPointer
    let cr3: UInt64

    public init(system: UnsafeRawBufferPointer, cr3: UInt64) {
        self.system = system
        self.cr3 = cr3
    }

    /// The entries the MMU reads to translate `virtualAddress`, top level first (the last one is
    /// the leaf); nil when not present.
    public func entries(_ virtualAddress: UInt64) -> [UInt64]? {
        var table = cr3
        var out: [UInt64] = []
        for (level, shift) in [(4, 39), (3, 30), (2, 21), (1, 12)] as [(Int, UInt64)] {
            let offset = Int(table + ((virtualAddress >> shift) & 511) * 8)
            guard offset + 8 <= system.count else { return nil }
            let entry = system.load(fromByteOffset: offset, as: UInt64.self)
            guard entry & PTE.present != 0 else { return nil }
            out.append(entry)
            if level == 1 || (level == 2 && entry & PTE.pageSize != 0) { return out }
            table = entry & PTE.addressMask
        }
        return nil
    }

    /// The translation of `virtualAddress`: physical address, page size, and whether every level
    /// allows user and write access; nil when not present.
    public func translate(_ virtualAddress: UInt64) -> (physical: UInt64, pageSize: UInt64, user: Bool, writable: Bool)? {
        var table = cr3
        var user = true, writable = true
        for (level, shift) in [(4, 39), (3, 30), (2, 21), (1, 12)] as [(Int, UInt64)] {
            let index = (virtualAddress >> shift) & 511
            let offset = Int(table + index * 8)
            guard offset + 8 <= system.count else { return nil }
            let entry = system.load(fromByteOffset: offset, as: UInt64.self)
            guard entry & PTE.present != 0 else { return nil }
            user = user && entry & PTE.user != 0
            writable = writable && entry & PTE.writable != 0
            if level == 2 && entry & PTE.pageSize != 0 {
                let base = entry & PTE.addressMask & ~((1 << 21) - 1)
                return (base | (virtualAddress & ((1 << 21) - 1)), 1 << 21, user, writable)
            }
            if level == 1 {
                return ((entry & PTE.addressMask) | (virtualAddress & 0xFFF), 4096, user, writable)
            }
            table = entry & PTE.addressMask
        }
        return nil
    }
}

#if canImport(Glibc)
import Glibc
#endif
