import CHostMemory
import KVM
import Glibc
import SystemPackage

/// Guest memory as the host sees it: one mapping of a `BackingKind`, unmapped (and its memfd
/// closed) when the owner goes away.
public struct HostMemory: ~Copyable {
    public let base: UnsafeMutableRawPointer
    public let size: UInt64
    public let kind: BackingKind
    /// The memfd behind shared backings (shmem, shared-hugetlb); nil for private ones.
    public let memfd: Int32?
    /// Bytes mapped: size plus any alignment slack.
    private let mappedBase: UnsafeMutableRawPointer
    private let mappedSize: Int

    /// Maps `size` bytes of `kind`. `size` must be a multiple of the backing's page size.
    /// Hugetlb pools are grown first when `allowReservation`; a backing the host cannot give
    /// throws `BackingUnsupported` with the reason.
    public init(kind: BackingKind, size: UInt64, allowReservation: Bool = false) throws(BackingUnsupported) {
        guard size > 0, size % kind.pageSize == 0 else {
            throw BackingUnsupported("\(kind.rawValue) needs a size that is a multiple of \(formatBytes(kind.pageSize)); got \(formatBytes(size))")
        }
        if let pool = kind.hugetlbPool {
            try HugepagePool.ensureAvailable(Int(size / pool.bytes), of: pool, allowReservation: allowReservation)
        }
        var fd: Int32? = nil
        let prot = PROT_READ | PROT_WRITE
        var mapped: UnsafeMutableRawPointer?
        var mappedSize = Int(size)
        switch kind {
        case .anonymous4k, .thp:
            // Over-allocate by 2 MiB so the usable start can be 2 MiB aligned for THP.
            mappedSize = Int(size) + (kind == .thp ? 2 << 20 : 0)
            mapped = mmap(nil, mappedSize, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        case .hugetlb2m, .hugetlb1g:
            let sizeFlag = kind == .hugetlb2m ? CHOST_MAP_HUGE_2MB : CHOST_MAP_HUGE_1GB
            mapped = mmap(nil, mappedSize, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | sizeFlag, -1, 0)
        case .guestMemfd:
            throw BackingUnsupported("guest-memfd memory is created by a VM (KVM_CREATE_GUEST_MEMFD): use HostMemory(guestMemfd:size:)")
        case .shmem, .sharedHugetlb:
            let flags: UInt32 = kind == .shmem ? UInt32(MFD_CLOEXEC) : UInt32(MFD_CLOEXEC) | UInt32(MFD_HUGETLB) | CHOST_MFD_HUGE_2MB
            let memfd = chost_memfd_create("kvmbench-\(kind.rawValue)", flags)
            guard memfd >= 0 else {
                throw BackingUnsupported("memfd_create(\(kind.rawValue)) failed: \(Errno(rawValue: Glibc.errno))")
            }
            guard ftruncate(memfd, off_t(size)) == 0 else {
                let error = Errno(rawValue: Glibc.errno)
                close(memfd)
                throw BackingUnsupported("ftruncate of the \(kind.rawValue) memfd to \(formatBytes(size)) failed: \(error)")
            }
            fd = memfd
            mapped = mmap(nil, mappedSize, prot, MAP_SHARED, memfd, 0)
        }
        guard let region = mapped, region != MAP_FAILED else {
            let error = Errno(rawValue: Glibc.errno)
            if let fd { close(fd) }
            throw BackingUnsupported("mmap of \(formatBytes(size)) \(kind.rawValue) failed: \(error)")
        }
        var start = region
        if kind == .thp {
            let aligned = (UInt(bitPattern: region) + (2 << 20) - 1) & ~UInt((2 << 20) - 1)
            // SAFETY: aligned lies within the over-allocated mapping, at most 2 MiB past its start.
            start = UnsafeMutableRawPointer(bitPattern: aligned)!
        }
        let advice = kind == .thp ? MADV_HUGEPAGE : (kind == .anonymous4k ? MADV_NOHUGEPAGE : -1)
        if advice >= 0 && madvise(start, Int(size), advice) != 0 {
            let error = Errno(rawValue: Glibc.errno)
            munmap(region, mappedSize)
            throw BackingUnsupported("madvise(\(advice == MADV_HUGEPAGE ? "MADV_HUGEPAGE" : "MADV_NOHUGEPAGE")) failed: \(error)")
        }
        base = start
        self.size = size
        self.kind = kind
        memfd = fd
        mappedBase = region
        self.mappedSize = mappedSize
    }

    /// Maps a guest_memfd (created with GUEST_MEMFD_FLAG_MMAP) shared, and takes ownership of
    /// the fd: it is closed with the mapping. The host sees the same memory the guest does.
    public init(guestMemfd fd: Int32, size: UInt64) throws(BackingUnsupported) {
        guard let region = mmap(nil, Int(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), region != MAP_FAILED else {
            let error = Errno(rawValue: Glibc.errno)
            close(fd)
            throw BackingUnsupported("mmap of the \(formatBytes(size)) guest_memfd failed: \(error)")
        }
        base = region
        self.size = size
        kind = .guestMemfd
        memfd = fd
        mappedBase = region
        mappedSize = Int(size)
    }

    /// Host pages of [offset, offset+length) that this process's page tables map (the present bit
    /// of /proc/self/pagemap), as opposed to `mincore`, which also counts a shared file's page
    /// cache. Nil when pagemap cannot be read.
    public func pagesMappedByHost(offset: UInt64 = 0, length: UInt64? = nil) -> Int? {
        let length = length ?? size - offset
        let fd = open("/proc/self/pagemap", O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let pages = Int(length / 4096)
        var entries = [UInt64](repeating: 0, count: pages)
        let first = (UInt(bitPattern: base) + UInt(offset)) / 4096
        let bytes = entries.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(first * 8)) }
        guard bytes == pages * 8 else { return nil }
        return entries.reduce(0) { $0 + Int($1 >> 63) }
    }

    deinit {
        munmap(mappedBase, mappedSize)
        if let memfd { close(memfd) }
    }

    public var address: UInt { UInt(bitPattern: base) }

    public var buffer: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: base, count: Int(size)) }

    /// MADV_DONTNEED on [offset, offset+length): drops the host pages, which makes KVM's MMU
    /// notifier zap the guest mappings; private memory reads back as zeroes afterwards.
    public func discard(offset: UInt64, length: UInt64) -> Int32 {
        madvise(base + Int(offset), Int(length), MADV_DONTNEED)
    }

    /// MADV_DONTNEED on [address, address+length) of some backing's mapping (callers that hold
    /// host addresses per memslot rather than the owner, e.g. the memslots scenario's slot map).
    /// Returns 0 or the errno. The range must lie inside a live `HostMemory` mapping.
    public static func discard(address: UInt, length: Int) -> Int32 {
        // SAFETY: madvise only checks the range against the process's mappings; an address outside
        // every mapping fails with ENOMEM instead of touching memory.
        guard let start = UnsafeMutableRawPointer(bitPattern: address) else { return EINVAL }
        return madvise(start, length, MADV_DONTNEED) == 0 ? 0 : Glibc.errno
    }

    /// Touches every host page once (write), so the guest's faults find host pages present.
    public func prefault() {
        let step = 4096
        var offset = 0
        while offset < Int(size) {
            base.storeBytes(of: 0, toByteOffset: offset, as: UInt8.self)
            offset += step
        }
    }

    /// Counts the host pages of [offset, offset+length) that are resident (mincore(2)): present
    /// in the page tables or, for shared memory, in the page cache. -1 if mincore failed.
    public func residentPages(offset: UInt64 = 0, length: UInt64? = nil) -> Int {
        let length = length ?? size - offset
        let pages = Int((length + 4095) / 4096)
        var vector = [UInt8](repeating: 0, count: pages)
        guard mincore(base + Int(offset), Int(length), &vector) == 0 else { return -1 }
        return vector.reduce(0) { $0 + Int($1 & 1) }
    }

    /// Puts every page of a shared backing in the page cache without mapping it here: writes
    /// `pattern` at `offsetInPage` of each 4 KiB page through a second MAP_SHARED mapping of the
    /// memfd, then unmaps that mapping (what minor userfaults need).
    public func populatePageCache(pattern: UInt8, offsetInPage: Int) throws(BackingUnsupported) {
        guard let memfd else { throw BackingUnsupported("\(kind.rawValue) has no memfd to populate the page cache through") }
        let length = Int(size)
        guard let alias = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0), alias != MAP_FAILED else {
            throw BackingUnsupported("second mapping of the \(kind.rawValue) memfd failed: \(Errno(rawValue: Glibc.errno))")
        }
        var offset = 0
        while offset < length {
            alias.storeBytes(of: pattern, toByteOffset: offset + offsetInPage, as: UInt8.self)
            offset += 4096
        }
        munmap(alias, length)
    }
}
