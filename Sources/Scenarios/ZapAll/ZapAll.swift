import Harness
import Backings
import Foundation
import GuestPrograms
import KVM
import Results

/// An event that takes mappings away from a populated guest.
public enum ZapTrigger: String, CaseIterable, Sendable {
    /// Delete and recreate a small slot the guest never touches. With KVM_X86_QUIRK_SLOT_ZAP_ALL
    /// (the x86 default) deleting any slot zaps every shadow/TDP page of the VM.
    case unrelatedSlot = "unrelated-slot"
    /// The same on a VM that disabled the quirk (KVM_CAP_DISABLE_QUIRKS2): only the deleted slot's
    /// mappings go, so nothing the guest uses should be zapped.
    case unrelatedSlotNoQuirk = "unrelated-slot-no-quirk"
    /// Delete the first test slot (the guest's memory) and recreate it.
    case populatedSlot = "populated-slot"
    /// Turn KVM_MEM_LOG_DIRTY_PAGES on for every test slot: KVM write-protects every mapping
    /// (and splits huge ones), so the next guest writes fault. Turned off again afterwards.
    case dirtyLog = "dirty-log"
    /// MADV_DONTNEED on the whole backing while the vCPUs run: the MMU notifier invalidates every
    /// mapping, and the refault also allocates fresh host pages.
    case mmuNotifier = "mmu-notifier"
}

/// The cost of losing guest mappings (the "fast zap all shadow pages" series, 2013, measured
/// deleting a memslot of a 6-vCPU, 2 GiB guest). The guest's memory is populated, then each
/// trigger runs `--runs` times, each time on a freshly populated MMU: the trigger's system call is
/// timed, then one full pass of every vCPU (the time to fault everything back in). The stats of
/// each trigger (mmu_shadow_zapped, pages_4k / pages_2m before and after, remote_tlb_flush, ...)
/// show what KVM really did.
///
/// Metrics are the mean over the runs of a repetition (the seed reports "Run 10 times, Avg time"),
/// so each repetition contributes one sample; the fastest run is reported too, not gated. The
/// phase stats are those of the last run.
public struct ZapAllScenario: Scenario {
    public static let name = "zap-all"
    public static let summary = "cost of zapping a populated guest's mappings: slot delete (with/without the zap-all quirk), dirty logging, MMU notifier"
    public static let parameterTable = ParameterTable(GuestParameters.all + [
        GuestParameters.vcpus.defaulting(to: 6), GuestParameters.memoryPerVCPU.defaulting(to: nil, note: "2G in total, split over the vCPUs"),
        triggers, runs,
    ])
    public static let triggers = Parameter<[ZapTrigger]>.subset(
        "triggers", help: "triggers to measure, comma-separated (one case runs them all)", what: "trigger")
    public static let runs = Parameter<Int>.int(
        "runs", help: "times each trigger runs within a repetition, on a freshly populated MMU (the mean is reported)",
        default: 10, range: 1...1000)
    /// Total guest memory when --mem-per-vcpu is not given: the seed's 2 GiB.
    public static let defaultTotal: UInt64 = 2 << 30

    public var guest: GuestConfiguration
    public var triggers: [ZapTrigger]
    public var runs: Int

    public init(parameters: ParameterSet, limits: HostLimits) throws(ParameterError) {
        var p = try Self.bind(parameters)
        if !p.has(GuestParameters.memoryPerVCPU) {
            let vcpus = try p.value(GuestParameters.vcpus)
            let unit = max(try p.value(GuestParameters.backing).pageSize, try p.value(GuestParameters.guestPageSize).bytes)
            let perVCPU = vcpus >= 1 ? Self.defaultTotal / UInt64(vcpus) / unit * unit : Self.defaultTotal
            p = p.setting(GuestParameters.memoryPerVCPU.key, to: formatSize(max(unit, perVCPU)))
        }
        guest = try GuestConfiguration(parameters: p, limits: limits)
        runs = try p.value(Self.runs)
        triggers = try p.value(Self.triggers)
        if limits.usableSlots >= 1 && guest.slots > limits.usableSlots - 1 {
            throw ParameterError("--slots \(guest.slots) leaves no slot for the unrelated one: allowed 1...\(limits.usableSlots - 1) on this host (KVM_CAP_NR_MEMSLOTS \(limits.memslots), less kvmbench's slot 0 and the unrelated slot)")
        }
    }

    public var parameters: [String: String] {
        var out = guest.recorded
        out["triggers"] = triggers.map(\.rawValue).joined(separator: ",")
        out["runs"] = "\(runs)"
        return out
    }

    /// One repetition: a VM with the quirk for every trigger but `unrelated-slot-no-quirk`, which
    /// gets a second VM built with the quirk disabled (the two never exist at the same time).
    public func measure(in context: CaseContext) throws -> Sample {
        var sample = Sample()
        var phases: [String: [String: Int64]] = [:]
        var firstDeltas: [String: Int64]? = nil
        var triggers = self.triggers
        if guest.backing == .guestMemfd && triggers.contains(.dirtyLog) {
            let reason = "\(ZapTrigger.dirtyLog.rawValue) on guest-memfd: \(GuestMemfdSupport.noDirtyLogging)"
            guard triggers != [.dirtyLog] else { throw ScenarioUnsupported(reason) }
            triggers.removeAll { $0 == .dirtyLog }
            sample.notes.append("not run: \(reason)")
        }
        let withQuirk = triggers.filter { $0 != .unrelatedSlotNoQuirk }
        if !withQuirk.isEmpty {
            let vm = try GuestVM(configuration: guest, context: context, maxPasses: 2)
            try measure(withQuirk, on: vm, into: &sample, phases: &phases, firstDeltas: &firstDeltas)
        }
        if triggers.contains(.unrelatedSlotNoQuirk) {
            do {
                let vm = try GuestVM(configuration: guest, context: context, maxPasses: 2) { vm in try MemslotsScenario.disableZapAllQuirk(vm) }
                try measure([.unrelatedSlotNoQuirk], on: vm, into: &sample, phases: &phases, firstDeltas: &firstDeltas)
            } catch let unsupported as ScenarioUnsupported where !withQuirk.isEmpty {
                sample.notes.append("\(ZapTrigger.unrelatedSlotNoQuirk.rawValue): not run: \(unsupported.reason)")
            }
        }
        sample.phaseStats = phases
        // The case's stats: the KVM deltas of the first trigger measured (last run), nothing synthetic.
        sample.kvmStats = firstDeltas ?? [:]
        if guest.vcpus > ProcessInfo.processInfo.activeProcessorCount {
            sample.notes.append("\(guest.vcpus) vCPUs on \(ProcessInfo.processInfo.activeProcessorCount) host CPUs: refault passes time-share, expect up to 2x variation")
        }
        return sample
    }

    /// What one run of one trigger measured, in nanoseconds.
    struct Run {
        var trigger: UInt64 = 0
        var refault: UInt64 = 0
        /// unrelated/populated slot: the delete and the create; dirty-log: turning logging off again.
        var first: UInt64 = 0
        var second: UInt64 = 0
        var zapped: Int64 = 0
        /// pages_4k + pages_2m + pages_1g right before and right after the trigger.
        var mappingsBefore: Int64 = 0
        var mappingsAfter: Int64 = 0
    }

    /// KVM's mappings of the VM (pages_4k + pages_2m + pages_1g): the evidence every MMU gives.
    static func mappings(_ values: [String: UInt64]) -> Int64 {
        ["pages_4k", "pages_2m", "pages_1g"].reduce(Int64(0)) { $0 + Int64(clamping: values[$1] ?? 0) }
    }

    func measure(_ list: [ZapTrigger], on vm: GuestVM, into sample: inout Sample, phases: inout [String: [String: Int64]],
                 firstDeltas: inout [String: Int64]?) throws {
        // A small slot next to the test memory that the guest never touches.
        let unrelatedMemory = try HostMemory(kind: .anonymous4k, size: 64 << 10)
        let unrelatedBase = (vm.layout.testBase + vm.layout.testSize + (2 << 20) - 1) / (2 << 20) * (2 << 20)
        let unrelated = Memslot(id: UInt32(vm.slots.count + 1), guestPhysicalAddress: unrelatedBase, size: 64 << 10,
                                hostAddress: unrelatedMemory.address)
        try vm.setMemslot(unrelated)
        sample.kvmStatTypes = vm.statTypes
        let firstTouch = try vm.runPasses(1)
        if list.first != .unrelatedSlotNoQuirk {
            sample.add(Self.metrics.populateTime, Double(firstTouch) / 1e9)
        }

        for trigger in list {
            var results: [Run] = []
            results.reserveCapacity(runs)
            for run in 0..<runs {
                try vm.runPasses(1) // every run starts from a fully populated MMU
                let before = vm.readStats()
                let valuesBefore = vm.vmStatValues()
                var result = Run()
                switch trigger {
                case .unrelatedSlot, .unrelatedSlotNoQuirk:
                    (result.first, result.second) = try deleteAndCreate(unrelated, on: vm)
                    result.trigger = result.first + result.second
                case .populatedSlot:
                    (result.first, result.second) = try deleteAndCreate(vm.slots[0], on: vm)
                    result.trigger = result.first + result.second
                case .dirtyLog:
                    result.trigger = try setFlags(.logDirtyPages, on: vm)
                case .mmuNotifier:
                    // While the backing is discarded the vCPUs run, but each rereads one page of
                    // its own (long passes, no exits), so the MMU notifier has running vCPUs to
                    // kick and no vCPU refaults the rest before it stops: the refault pass after
                    // the stop then measures the whole refault.
                    for index in 0..<vm.vcpuCount {
                        var confined = vm.defaultWorkload(index)
                        confined.random = true
                        confined.targets = 1
                        confined.writePercent = 0
                        confined.accesses = 1 << 22
                        vm.setWorkload(index, confined)
                    }
                    vm.startContinuous()
                    defer { for index in 0..<vm.vcpuCount { vm.setWorkload(index, vm.defaultWorkload(index)) } }
                    do {
                        try MemslotLoops.waitUntilRunning(vm)
                        let started = MonotonicClock.now()
                        let status = vm.testMemory.discard(offset: 0, length: vm.testMemory.size)
                        result.trigger = MonotonicClock.now() &- started
                        let error = errno
                        if status != 0 { throw MemslotCheckFailed("madvise(MADV_DONTNEED) of the guest memory failed: errno \(error)") }
                    } catch {
                        try? vm.stop()
                        throw error
                    }
                    try vm.stop()
                }
                let after = vm.readStats()
                let valuesAfter = vm.vmStatValues()
                result.refault = try vm.runPasses(1)
                let refaulted = vm.readStats()
                if trigger == .dirtyLog { result.first = try setFlags([], on: vm) }
                let deltas = vm.statsDeltas(from: before, to: after)
                result.zapped = deltas["mmu_shadow_zapped"] ?? 0
                result.mappingsBefore = Self.mappings(valuesBefore)
                result.mappingsAfter = Self.mappings(valuesAfter)
                // Evidence every MMU produces: a zapping trigger must leave fewer mappings than it found.
                if trigger != .unrelatedSlotNoQuirk && trigger != .dirtyLog && !(result.mappingsAfter < result.mappingsBefore) {
                    throw CheckFailed("\(trigger.rawValue): KVM's mappings did not fall (pages_4k + pages_2m + pages_1g \(result.mappingsBefore) before, \(result.mappingsAfter) after)")
                }
                results.append(result)
                if run == runs - 1 {
                    if firstDeltas == nil { firstDeltas = deltas }
                    var phase = deltas
                    for name in ["pages_4k", "pages_2m", "pages_1g"] {
                        if let value = valuesBefore[name] { phase[name + "_before"] = Int64(value) }
                        if let value = valuesAfter[name] { phase[name + "_after"] = Int64(value) }
                    }
                    phases[trigger.rawValue] = phase
                    phases[trigger.rawValue + ".refault"] = vm.statsDeltas(from: after, to: refaulted)
                }
            }
            report(trigger, results, into: &sample)
        }
    }

    /// Times KVM_MR_DELETE of `slot`, then KVM_MR_CREATE of it again.
    func deleteAndCreate(_ slot: Memslot, on vm: GuestVM) throws -> (UInt64, UInt64) {
        let a = MonotonicClock.now()
        try vm.deleteMemslot(id: slot.id)
        let b = MonotonicClock.now()
        try vm.setMemslot(slot)
        let c = MonotonicClock.now()
        return (b &- a, c &- b)
    }

    /// Times setting `flags` on every test slot (KVM_MR_FLAGS_ONLY).
    func setFlags(_ flags: MemslotFlags, on vm: GuestVM) throws -> UInt64 {
        let count = vm.slots.count
        let started = MonotonicClock.now()
        for index in 0..<count { try vm.setTestSlotFlags(index, flags) }
        return MonotonicClock.now() &- started
    }

    func report(_ trigger: ZapTrigger, _ runs: [Run], into sample: inout Sample) {
        let name = trigger.rawValue
        func mean(_ values: [UInt64]) -> Double { Double(values.reduce(0, +)) / Double(values.count) / 1e9 }
        sample.add(Self.metrics.triggerTime(name), mean(runs.map(\.trigger)))
        sample.add(Self.metrics.triggerTimeMin(name), Double(runs.map(\.trigger).min() ?? 0) / 1e9)
        sample.add(Self.metrics.refaultTime(name), mean(runs.map(\.refault)))
        switch trigger {
        case .unrelatedSlot, .unrelatedSlotNoQuirk, .populatedSlot:
            sample.add(Self.metrics.deleteTime(name), mean(runs.map(\.first)))
            sample.add(Self.metrics.createTime(name), mean(runs.map(\.second)))
        case .dirtyLog:
            sample.add(Self.metrics.disableTime(name), mean(runs.map(\.first)))
        case .mmuNotifier:
            break
        }
        sample.add(Self.metrics.mappingsBefore(name), Double(runs.map(\.mappingsBefore).reduce(0, +)) / Double(runs.count))
        sample.add(Self.metrics.mappingsAfter(name), Double(runs.map(\.mappingsAfter).reduce(0, +)) / Double(runs.count))
        // mmu_shadow_zapped only counts in the shadow-MMU code: on a TDP MMU it stays 0 whatever was zapped.
        if HostPaging.current.usesShadowMMU {
            sample.add(Self.metrics.shadowZapped(name), Double(runs.map(\.zapped).reduce(0, +)) / Double(runs.count))
        }
    }
}
