import Backings

/// The guest's test memory as the host reads and writes it: aligned 64-bit words at a host
/// address inside the mapping (e.g. a memslot's `hostAddress` plus an offset) or at a 4 KiB page
/// and a byte offset in it, single bytes, and scans of every page's first word for a token.
///
/// A view, not a copy: loads see what the guest wrote (also while vCPUs run: an aligned 8-byte
/// load is single-copy atomic on x86-64, so it sees a whole word of a concurrent guest store), and
/// the guest sees the stores unless KVM's mappings are stale. It keeps the mapping's owner alive
/// (the `GuestVM`, or the `HostMemory` it was given), and every access is checked against the
/// mapping's bounds, so no access can land outside it. Accesses allocate nothing and inline into
/// the caller: they may sit in timed loops. Not `Sendable`: it is used on the thread that made it.
public struct TestMemoryView {
    public static let pageSize = 4096

    /// What keeps the mapping alive: the `GuestVM` that owns it, or a `MappingOwner`.
    @usableFromInline let owner: AnyObject
    // SAFETY: `base` is the start of a readable and writable mapping of `byteCount` bytes that
    // `owner` keeps mapped (a HostMemory is unmapped only in its deinit, and `owner` holds it, so
    // not before this view is gone); every access below checks that its bytes lie in
    // [base, base + byteCount), and word accesses that they are 8-byte aligned. (Scenarios that
    // mprotect or remap parts of the test memory, mmu-stress, do it through HostMemoryOperations
    // and do not read through a view.)
    @usableFromInline let base: UnsafeMutableRawPointer
    /// Bytes of the mapping.
    public let byteCount: Int

    /// A view of `memory`, which `owner` owns and keeps mapped while it lives.
    init(owner: AnyObject, memory: borrowing HostMemory) {
        self.owner = owner
        base = memory.base
        byteCount = Int(memory.size)
    }

    /// A view that owns `memory` (scratch memory, e.g. in tests): unmapped when the last copy of
    /// the view is gone.
    public init(owning memory: consuming HostMemory) {
        base = memory.base
        byteCount = Int(memory.size)
        owner = MappingOwner(memory)
    }

    /// Host address of the first byte.
    public var hostAddress: UInt { UInt(bitPattern: base) }

    /// Whole 4 KiB pages in the mapping.
    public var pageCount: Int { byteCount / Self.pageSize }

    /// Byte offset of the aligned word at `offset` bytes, checked.
    @inlinable @inline(__always)
    func checkedWordOffset(_ offset: Int) -> Int {
        precondition(offset >= 0 && offset <= byteCount - 8 && offset & 7 == 0,
                     "word at offset \(offset) is outside the test memory (\(byteCount) bytes) or unaligned")
        return offset
    }

    /// Byte offset of `address`, checked to be an aligned word inside the mapping.
    @inlinable @inline(__always)
    func checkedWordOffset(hostAddress address: UInt) -> Int {
        let start = UInt(bitPattern: base)
        precondition(address >= start && address - start <= UInt(byteCount - 8) && address & 7 == 0,
                     "host address \(String(address, radix: 16)) is outside the test memory or unaligned")
        return Int(address - start)
    }

    /// The word at host address `address` (8-byte aligned, inside the mapping).
    @inlinable
    public func load(atHostAddress address: UInt) -> UInt64 {
        // SAFETY: an aligned word inside the live mapping (checkedWordOffset traps otherwise).
        base.load(fromByteOffset: checkedWordOffset(hostAddress: address), as: UInt64.self)
    }

    /// Stores `value` at host address `address` (8-byte aligned, inside the mapping).
    @inlinable
    public func store(_ value: UInt64, atHostAddress address: UInt) {
        // SAFETY: as in `load(atHostAddress:)`.
        base.storeBytes(of: value, toByteOffset: checkedWordOffset(hostAddress: address), as: UInt64.self)
    }

    /// The word at byte `offset` (8-byte aligned) of page `page`.
    @inlinable
    public func load(page: Int, offset: Int = 0) -> UInt64 {
        // SAFETY: an aligned word inside the live mapping (checkedWordOffset traps otherwise).
        base.load(fromByteOffset: checkedWordOffset(page * Self.pageSize + offset), as: UInt64.self)
    }

    /// Stores `value` at byte `offset` (8-byte aligned) of page `page`.
    @inlinable
    public func store(_ value: UInt64, page: Int, offset: Int = 0) {
        // SAFETY: as in `load(page:offset:)`.
        base.storeBytes(of: value, toByteOffset: checkedWordOffset(page * Self.pageSize + offset), as: UInt64.self)
    }

    /// The byte at `offset` from the mapping's start.
    public func byte(atOffset offset: Int) -> UInt8 {
        precondition(offset >= 0 && offset < byteCount, "byte at offset \(offset) is outside the test memory (\(byteCount) bytes)")
        // SAFETY: a byte inside the live mapping (checked above).
        return base.load(fromByteOffset: offset, as: UInt8.self)
    }

    /// Sets bit i of `bits` for every page i below `pages` whose first word equals `token` in
    /// the bits of `mask`, clears every other bit of `bits`, and returns how many pages matched.
    /// `bits` must hold a bit per page.
    public func scanPages(forToken token: UInt64, mask: UInt64 = .max, pages: Int, into bits: inout [UInt64]) -> Int {
        precondition(pages >= 0 && pages <= pageCount, "\(pages) pages: the test memory has \(pageCount)")
        precondition(bits.count * 64 >= pages, "a bitmap of \(bits.count) words cannot hold \(pages) pages")
        for index in bits.indices { bits[index] = 0 }
        var count = 0
        // SAFETY: page < pages <= pageCount (checked above), so each word lies inside the live mapping.
        for page in 0..<pages where base.load(fromByteOffset: page * Self.pageSize, as: UInt64.self) & mask == token {
            bits[page >> 6] |= 1 << UInt64(page & 63)
            count += 1
        }
        return count
    }
}

/// Owns a mapping for a `TestMemoryView(owning:)`.
final class MappingOwner {
    let memory: HostMemory
    init(_ memory: consuming HostMemory) { self.memory = memory }
}

extension GuestVM {
    /// The test memory as a checked view; it keeps this guest (which owns the mapping) alive.
    public var testMemoryView: TestMemoryView { TestMemoryView(owner: self, memory: testMemory) }
}
