import Harness
import Backings
import Foundation
import GuestPrograms
import KVM
import Results

/// Memslot churn under load (the kernel selftests' memslot_modification_stress_test, with numbers):
/// while every vCPU keeps walking its memory, the host adds and deletes a one-page memslot right
/// past the test area `--cycles` times, timing each KVM_SET_USER_MEMORY_REGION. Then the vCPUs
/// run as long again (at least 200 ms) with no churn, and the two access rates (pages/s, counting
/// whole passes) are compared.
///
/// Every add and delete swaps the VM's memslot set and waits for SRCU readers (vCPUs in KVM) to
/// leave the old one; every delete also zaps the slot's mappings, and with the x86 quirk
/// KVM_X86_QUIRK_SLOT_ZAP_ALL (on unless disabled with KVM_CAP_DISABLE_QUIRKS2) every shadow page
/// of the VM, so the vCPUs fault their whole memory back in after each delete. `rate_drop` shows
/// what that costs a running guest; `--no-zap-all-quirk` shows it without the quirk.
public struct MemslotStressScenario: Scenario {
    public static let name = "memslot-stress"
    public static let summary = "add/delete a memslot while vCPUs run: KVM_SET_USER_MEMORY_REGION latency and the guest's slowdown"
    public static let parameterTable = ParameterTable(GuestParameters.all + [cycles, MemslotsParameters.zapAllQuirk])
    public static let cycles = Parameter<Int>.int(
        "cycles", help: "add + delete cycles of the churned slot", default: 500, range: 1...1_000_000)

    public var guest: GuestConfiguration
    public var cycles: Int
    public var zapAllQuirk: Bool

    public init(parameters: ParameterSet, limits: HostLimits) throws(ParameterError) {
        let p = try Self.bind(parameters)
        guest = try GuestConfiguration(parameters: p, limits: limits)
        cycles = try p.value(Self.cycles)
        zapAllQuirk = try p.value(MemslotsParameters.zapAllQuirk)
        if limits.usableSlots >= 1 && guest.slots > limits.usableSlots - 1 {
            throw ParameterError("--slots \(guest.slots) leaves no slot for the churned one: allowed 1...\(limits.usableSlots - 1) on this host (KVM_CAP_NR_MEMSLOTS \(limits.memslots), less kvmbench's slot 0 and the churned slot)")
        }
    }

    public var parameters: [String: String] {
        var out = guest.recorded
        out["cycles"] = "\(cycles)"
        out["zap_all_quirk"] = "\(zapAllQuirk)"
        return out
    }

    public func measure(in context: CaseContext) throws -> Sample {
        let quirk = zapAllQuirk
        let vm = try GuestVM(configuration: guest, context: context, maxPasses: 2) { vm in
            if !quirk { try MemslotsScenario.disableZapAllQuirk(vm) }
        }
        let churnMemory = try HostMemory(kind: .anonymous4k, size: 4096)
        let churned = Memslot(id: UInt32(vm.slots.count + 1), guestPhysicalAddress: vm.layout.testBase + vm.layout.testSize,
                              size: 4096, hostAddress: churnMemory.address)
        var addNanos = LatencyBuffer(capacity: cycles)
        var deleteNanos = LatencyBuffer(capacity: cycles)

        try vm.runPasses(1) // populate: both phases start from a fully mapped guest

        // Churn: the timed region of each sample is the one ioctl.
        vm.startContinuous()
        let churnStats: (StatsReadingPair, UInt64, Int)
        do {
            try MemslotLoops.waitUntilRunning(vm)
            let before = vm.readStats()
            let passes0 = vm.continuousPasses
            let started = MonotonicClock.now()
            for _ in 0..<cycles {
                let a = MonotonicClock.now()
                try vm.setMemslot(churned)
                let b = MonotonicClock.now()
                try vm.deleteMemslot(id: churned.id)
                let c = MonotonicClock.now()
                addNanos.append(b &- a)
                deleteNanos.append(c &- b)
            }
            let elapsed = MonotonicClock.now() &- started
            let passes = vm.continuousPasses - passes0
            churnStats = (StatsReadingPair(before: before, after: vm.readStats()), elapsed, passes)
        } catch {
            try? vm.stop()
            throw error
        }
        try vm.stop()

        // Quiet: the same vCPUs, just as long (but at least 200 ms, so that whole passes get
        // counted even when the churn was over in a few milliseconds), no slot changes.
        let quietNanos = max(churnStats.1, 200_000_000)
        try vm.runPasses(1)
        vm.startContinuous()
        let quietStats: (StatsReadingPair, UInt64, Int)
        do {
            try MemslotLoops.waitUntilRunning(vm)
            let before = vm.readStats()
            let passes0 = vm.continuousPasses
            let started = MonotonicClock.now()
            var request = timespec(tv_sec: Int(quietNanos / 1_000_000_000), tv_nsec: Int(quietNanos % 1_000_000_000))
            var remaining = timespec()
            while nanosleep(&request, &remaining) != 0 { request = remaining }
            let elapsed = MonotonicClock.now() &- started
            let passes = vm.continuousPasses - passes0
            quietStats = (StatsReadingPair(before: before, after: vm.readStats()), elapsed, passes)
        } catch {
            try? vm.stop()
            throw error
        }
        try vm.stop()

        var sample = Sample()
        let pagesPerPass = Double(guest.pagesPerVCPU)
        for (name, latencies) in [("add", addNanos.values), ("delete", deleteNanos.values)] {
            let sorted = latencies.map { Double($0) / 1e3 }.sorted()
            sample.add(Self.metrics.latencyP50(name), Summary.percentile(50, of: sorted))
            sample.add(Self.metrics.latencyP90(name), Summary.percentile(90, of: sorted))
            sample.add(Self.metrics.latencyP99(name), Summary.percentile(99, of: sorted))
            sample.add(Self.metrics.latencyMax(name), sorted.last ?? 0)
            sample.add(Self.metrics.latencyMin(name), sorted.first ?? 0)
        }
        let quietRate = Double(quietStats.2) * pagesPerPass / (Double(quietStats.1) / 1e9)
        let churnRate = Double(churnStats.2) * pagesPerPass / (Double(churnStats.1) / 1e9)
        sample.add(Self.metrics.accessRateQuiet, quietRate)
        sample.add(Self.metrics.accessRateUnderChurn, churnRate)
        sample.add(Self.metrics.rateDrop, quietRate > 0 ? (1 - churnRate / quietRate) * 100 : 0)
        sample.add(Self.metrics.churnTime, Double(churnStats.1) / 1e9)
        sample.add(Self.metrics.passesUnderChurn, Double(churnStats.2))
        sample.add(Self.metrics.passesQuiet, Double(quietStats.2))
        sample.setKVMStats(vm.statsReport(from: churnStats.0.before, to: churnStats.0.after))
        sample.phaseStats = [
            "churn": sample.kvmStats,
            "quiet": vm.statsDeltas(from: quietStats.0.before, to: quietStats.0.after),
        ]
        if churnStats.2 < 10 * guest.vcpus || quietStats.2 < 10 * guest.vcpus {
            sample.notes.append("few whole passes counted (\(churnStats.2) under churn, \(quietStats.2) quiet): the access rates count only completed passes; raise --cycles or lower --mem-per-vcpu for a finer figure")
        }
        if guest.vcpus + 1 > ProcessInfo.processInfo.activeProcessorCount {
            sample.notes.append("\(guest.vcpus) vCPUs and the churning thread share \(ProcessInfo.processInfo.activeProcessorCount) host CPUs: part of the drop is CPU time the churn takes")
        }
        return sample
    }
}

/// Two stats readings bracketing one phase.
struct StatsReadingPair {
    var before: GuestVM.StatsReading
    var after: GuestVM.StatsReading
}
