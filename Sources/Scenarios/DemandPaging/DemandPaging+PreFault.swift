import Harness
import Results

extension DemandPagingScenario {
    /// `--populate pre-fault`: the KVM_PRE_FAULT_MEMORY phase's figures, and the proof that it
    /// mapped the test memory: KVM's mapping counts grew by at least the pages the guest touches,
    /// and where KVM could map them writable (host-populated backing, or guest_memfd) the guest's
    /// first touch took fewer page faults than half its pages.
    func recordPreFault(_ preFault: (nanos: UInt64, perVCPU: [Double], stats: [String: Int64]),
                        firstTouch: [String: Int64], into sample: inout Sample) throws {
        let touched = WorkloadReplay.touchedUnits(configuration: guest, unit: 4096)
        let seconds = Double(preFault.nanos) / 1e9
        let pages = Double(guest.testSize / 4096)
        sample.add(Self.metrics.preFaultTime, seconds)
        sample.add(Self.metrics.preFaultRate, pages / seconds)
        sample.add(Self.metrics.preFaultVCPUTimeMax, preFault.perVCPU.max() ?? seconds)
        var phases = sample.phaseStats ?? [:]
        phases["pre_fault"] = preFault.stats
        sample.phaseStats = phases
        let mapped = (preFault.stats["pages_4k"] ?? 0) + 512 * (preFault.stats["pages_2m"] ?? 0) + 262_144 * (preFault.stats["pages_1g"] ?? 0)
        guard mapped >= Int64(touched) else {
            throw CheckFailed("--populate pre-fault: KVM_PRE_FAULT_MEMORY returned, but KVM's mappings grew by \(mapped) 4 KiB pages (pages_4k/2m/1g) for \(touched) pages the guest touches")
        }
        let faults = firstTouch["pf_taken"] ?? 0
        if guest.hostPrefault || guest.backing == .guestMemfd, faults * 2 >= Int64(touched) {
            throw CheckFailed("--populate pre-fault: the guest's first touch after KVM_PRE_FAULT_MEMORY still took \(faults) page faults for \(touched) pages")
        }
        if !guest.hostPrefault && guest.backing != .guestMemfd {
            sample.notes.append("--populate pre-fault maps as a read: never-written \(guest.backing.rawValue) memory is mapped to the zero page, so the guest's first writes still fault (add --host-prefault for writable mappings)")
        }
    }
}
