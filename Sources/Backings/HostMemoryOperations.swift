import Glibc

/// The calls that take guest memory away from KVM behind its back: each goes through the MMU
/// notifier (invalidate_range_start/end), so KVM zaps the mappings of the range and the guest
/// refaults. A copyable handle on a `HostMemory` mapping, so several host threads can work on
/// disjoint ranges of it at once; it must not outlive the `HostMemory` it came from.
///
/// Each call is one or two system calls and allocates nothing, so callers may time it. A failure
/// returns the errno (0 on success) instead of throwing, to keep timed loops free of error boxing.
public struct HostMemoryOperations: Sendable {
    /// Start of the mapping (as an address: the handle may cross threads).
    public let address: UInt
    public let size: UInt64
    public let kind: BackingKind

    /// MAP_FIXED_NOREPLACE (Linux 4.17): the remap fails with EEXIST rather than clobber a mapping
    /// another thread put into the hole between munmap and mmap.
    static let mapFixedNoReplace: Int32 = 0x10_0000

    var base: UnsafeMutableRawPointer {
        // SAFETY: address is the start of a live mapping of `size` bytes (the HostMemory outlives this handle).
        UnsafeMutableRawPointer(bitPattern: address)!
    }

    /// mprotect of [offset, offset+length) to read-only (`writable` false) or read-write. Making it
    /// read-only invalidates KVM's mappings (MMU_NOTIFY_PROTECTION_VMA); guest writes then make
    /// KVM_RUN fail with EFAULT until it is writable again.
    public func protect(offset: UInt64, length: UInt64, writable: Bool) -> Int32 {
        mprotect(base + Int(offset), Int(length), writable ? PROT_READ | PROT_WRITE : PROT_READ) == 0 ? 0 : Glibc.errno
    }

    /// MADV_DONTNEED: drops the host pages; private anonymous memory reads back as zeroes.
    public func discard(offset: UInt64, length: UInt64) -> Int32 {
        madvise(base + Int(offset), Int(length), MADV_DONTNEED) == 0 ? 0 : Glibc.errno
    }

    /// munmap, then mmap of fresh anonymous memory at the same address (with the backing's
    /// huge-page advice): the range reads back as zeroes. Between the two calls the range is
    /// unmapped, and a guest access to it makes KVM_RUN fail with EFAULT.
    public func remap(offset: UInt64, length: UInt64) -> Int32 {
        guard kind == .anonymous4k || kind == .thp else { return EINVAL }
        let start = base + Int(offset)
        guard munmap(start, Int(length)) == 0 else { return Glibc.errno }
        let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | Self.mapFixedNoReplace
        guard let mapped = mmap(start, Int(length), PROT_READ | PROT_WRITE, flags, -1, 0), mapped != MAP_FAILED else { return Glibc.errno }
        // Kernels before 4.17 ignore the unknown flag and may map elsewhere: never leave that behind.
        guard mapped == start else { munmap(mapped, Int(length)); return EEXIST }
        return madvise(start, Int(length), kind == .thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) == 0 ? 0 : Glibc.errno
    }

    /// Host stores into the mapping (what the guest sees unless its mappings are stale).
    public func store(_ value: UInt64, at offset: UInt64) {
        base.storeBytes(of: value, toByteOffset: Int(offset), as: UInt64.self)
    }

    public func load(at offset: UInt64) -> UInt64 {
        base.load(fromByteOffset: Int(offset), as: UInt64.self)
    }
}

extension HostMemory {
    /// A handle for mprotect / MADV_DONTNEED / remap of this mapping from other threads.
    public var operations: HostMemoryOperations { HostMemoryOperations(address: address, size: size, kind: kind) }
}
