import Backings
import Glibc
import Testing

@Suite("memory backings")
struct BackingTests {
    @Test(arguments: BackingKind.allCases)
    func backingWorksOrSaysWhyNot(kind: BackingKind) {
        do {
            let memory = try HostMemory(kind: kind, size: kind.pageSize)
            memory.buffer.storeBytes(of: 0xABCD, toByteOffset: 0, as: UInt64.self)
            #expect(memory.buffer.load(fromByteOffset: 0, as: UInt64.self) == 0xABCD)
            #expect(memory.address % UInt(min(kind.pageSize, 2 << 20)) == 0)
            #expect(memory.kind.isShared == (memory.memfd != nil))
        } catch {
            #expect(!error.reason.isEmpty)
            // guest-memfd memory comes from a VM (HostMemory(guestMemfd:size:)), never from this init.
            #expect(kind.hugetlbPool != nil || kind == .guestMemfd, "only hugetlb backings may be unsupported here: \(error.reason)")
            // ... and only for want of hugepages (no pool of that size, too few free pages in it), or
            // guest-memfd for being asked of this init.
            if let pool = kind.hugetlbPool {
                #expect(error.reason.contains("hugetlb pool") || error.reason.contains("free \(pool.rawValue) hugepages"), "\(error.reason)")
            } else if kind == .guestMemfd {
                #expect(error.reason.hasPrefix("guest-memfd memory is created by a VM"), "\(error.reason)")
            }
        }
    }

    @Test func sizesNotAMultipleOfThePageSizeAreRefused() {
        #expect(throws: BackingUnsupported.self) { _ = try HostMemory(kind: .hugetlb1g, size: 512 << 20) }
        #expect(throws: BackingUnsupported.self) { _ = try HostMemory(kind: .anonymous4k, size: 0) }
    }

    @Test(.enabled(if: HugepagePool.total(.size2m) != nil && getuid() == 0, "needs a 2M hugetlb pool and root"))
    func hugepageReservationIsRestored() throws {
        let before = try #require(HugepagePool.total(.size2m))
        do {
            let memory = try HostMemory(kind: .hugetlb2m, size: 4 << 20, allowReservation: true)
            memory.buffer.storeBytes(of: 1, toByteOffset: 0, as: UInt8.self)
        } catch {
            Issue.record("could not reserve 2 hugepages: \(error.reason)")
        }
        HugepagePool.restoreAll()
        #expect(HugepagePool.total(.size2m) == before)
    }

    @Test(.enabled(if: HugepagePool.available(.size2m) == 0, "only meaningful while the 2M pool is empty"))
    func emptyPoolWithoutPermissionIsUnsupportedWithTheShortfall() {
        let error = #expect(throws: BackingUnsupported.self) { _ = try HostMemory(kind: .hugetlb2m, size: 8 << 20) }
        #expect(error?.reason.contains("needs 4 free 2M hugepages") == true)
        #expect(error?.reason.contains("--reserve-hugepages") == true)
    }
}
