/// How the host backs guest memory (`--backing`).
public enum BackingKind: String, CaseIterable, Sendable, Codable {
    /// Private anonymous memory with MADV_NOHUGEPAGE: 4 KiB host pages only.
    case anonymous4k = "anonymous-4k"
    /// Private anonymous memory with MADV_HUGEPAGE, 2 MiB aligned: transparent huge pages.
    case thp
    /// Private MAP_HUGETLB with 2 MiB pages from the hugetlb pool.
    case hugetlb2m = "hugetlb-2m"
    /// Private MAP_HUGETLB with 1 GiB pages from the hugetlb pool.
    case hugetlb1g = "hugetlb-1g"
    /// Shared memory from a memfd (shmem), 4 KiB pages.
    case shmem
    /// Shared memory from a hugetlb memfd, 2 MiB pages.
    case sharedHugetlb = "shared-hugetlb"
    /// A guest_memfd of the VM (KVM_CREATE_GUEST_MEMFD with MMAP | INIT_SHARED), 4 KiB pages,
    /// given to KVM with KVM_SET_USER_MEMORY_REGION2: KVM faults it through guest_memfd, not
    /// through the host mapping. Created with the VM (`HostMemory(guestMemfd:size:)`).
    case guestMemfd = "guest-memfd"

    /// The host page size the backing hands out; guest addresses and sizes align to it.
    public var pageSize: UInt64 {
        switch self {
        case .anonymous4k, .shmem, .guestMemfd: 4096
        case .thp, .hugetlb2m, .sharedHugetlb: 2 << 20
        case .hugetlb1g: 1 << 30
        }
    }

    /// The hugetlb pool the backing draws from, if any.
    public var hugetlbPool: HugepageSize? {
        switch self {
        case .hugetlb2m, .sharedHugetlb: .size2m
        case .hugetlb1g: .size1g
        default: nil
        }
    }

    /// Shared (file-backed) memory: required for userfaultfd minor faults.
    public var isShared: Bool { self == .shmem || self == .sharedHugetlb }

    /// "anonymous-4k, thp, ..." for error messages.
    public static var allNames: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// A hugetlb page size with a pool under /sys/kernel/mm/hugepages.
public enum HugepageSize: String, Sendable, CaseIterable, Codable {
    case size2m = "2M"
    case size1g = "1G"

    public var bytes: UInt64 { self == .size2m ? 2 << 20 : 1 << 30 }
    var sysfsDirectory: String { "/sys/kernel/mm/hugepages/hugepages-\(self == .size2m ? 2048 : 1_048_576)kB" }
}
