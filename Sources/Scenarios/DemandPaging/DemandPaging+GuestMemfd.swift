import Harness
import Backings
import Results

/// The test memory's pages right after the first touch of a guest-memfd guest.
struct GuestMemfdPages {
    /// Pages the guest_memfd holds (mincore of its shared mapping: the file's page cache).
    var allocated: Int
    /// Pages the host's own page tables map (pagemap): KVM faulting through guest_memfd never
    /// touches the host mapping, so these stay 0 unless the host wrote the memory itself.
    var hostMapped: Int?

    init(_ memory: borrowing HostMemory) {
        allocated = memory.residentPages()
        hostMapped = memory.pagesMappedByHost()
    }
}

extension DemandPagingScenario {
    /// The proof that first-touch faults went through guest_memfd: at least one KVM fault per
    /// page touched, the guest_memfd now holding every touched page, and (unless the host
    /// prefaulted) no host page-table entry for any of them.
    func recordGuestMemfd(_ pages: GuestMemfdPages, stats: [String: Int64], into sample: inout Sample) throws {
        let touched = WorkloadReplay.touchedUnits(configuration: guest, unit: 4096)
        let faults = Int(stats["pf_taken"] ?? 0)
        sample.add(Self.metrics.pagesTouched, Double(touched))
        sample.add(Self.metrics.gmemPagesAllocated, Double(pages.allocated))
        if let mapped = pages.hostMapped {
            sample.add(Self.metrics.hostPTEsMapped, Double(mapped))
        }
        guard faults >= touched else {
            throw CheckFailed("guest-memfd: \(faults) KVM page faults (pf_taken) for \(touched) pages touched for the first time: expected at least one per page")
        }
        guard pages.allocated >= touched else {
            throw CheckFailed("guest-memfd: the guest_memfd holds \(pages.allocated) pages after the guest touched \(touched)")
        }
        if !guest.hostPrefault, let mapped = pages.hostMapped, mapped > 0 {
            throw CheckFailed("guest-memfd: \(mapped) host page-table entries appeared in the guest_memfd mapping: KVM faulted the host mapping instead of the guest_memfd")
        }
    }
}
