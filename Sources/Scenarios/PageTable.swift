import Backings
import Foundation
import GuestPrograms
import KVM
import Results

/// KVM's page-table life cycle under dirty logging (the kernel selftests' kvm_page_table_test),
/// in three timed phases on one VM:
///
/// 1. **create mappings**: every vCPU touches its memory for the first time; KVM builds its
///    mappings, huge ones (2 MiB) where the host backing and the guest's own page size allow.
/// 2. **update mappings**: dirty logging is enabled on every test memslot (KVM write-protects the
///    slot, and x86 stops creating huge mappings in it so each 4 KiB write can be logged); then the
///    vCPUs write again: every write takes a write-protection fault, and each huge mapping is
///    dropped and rebuilt as 4 KiB ones (the "split").
/// 3. **rebuild blocks**: dirty logging is disabled (x86 zaps the 4 KiB mappings that could be
///    huge again, kvm_mmu_zap_collapsible_sptes), then the vCPUs touch the memory again and the
///    faults rebuild huge mappings.
///
/// As in the selftest, even-numbered vCPUs write and odd ones read while creating mappings; every
/// vCPU writes during the update and reads during the rebuild. `--write-percent` replaces that
/// with one percentage for every vCPU and phase. The VM-wide `pages_4k`/`pages_2m`/`pages_1g`
/// stats are read at each phase boundary (`phaseStats["after.create"]`, ...).
public struct PageTableScenario: Scenario {
    public static let name = "page-table"
    public static let summary = "create, update (dirty logging splits huge mappings) and rebuild KVM's mappings (kvm_page_table_test)"
    public static let parameterKeys: [String: String] = [:]

    /// The recorded `write_percent` when the selftest's per-phase access types are used.
    public static let selftestWrites = "selftest"

    public var guest: GuestConfiguration
    /// One write percentage for every vCPU and phase; nil: the selftest's access types.
    public var writePercent: Int?

    public init(guest: GuestConfiguration, writePercent: Int? = nil) {
        self.guest = guest
        self.writePercent = writePercent
    }

    public init(parameters: ParameterSet, limits: HostLimits) throws(ParameterError) {
        var values = parameters.values
        let selftest = values["write_percent"] == nil || values["write_percent"]?.lowercased() == Self.selftestWrites
        if selftest { values["write_percent"] = nil }
        guest = try GuestConfiguration(parameters: ParameterSet(values), limits: limits,
                                       defaults: GuestConfiguration(vcpus: 1, memoryPerVCPU: 256 << 20, backing: .thp,
                                                                    guestPageSize: .size2m))
        writePercent = selftest ? nil : guest.writePercent
    }

    public var parameters: [String: String] {
        var out = guest.recorded
        out["write_percent"] = writePercent.map { "\($0)" } ?? Self.selftestWrites
        return out
    }

    public var notices: [String] {
        if let reason = hugeMappingsImpossible { return ["huge mappings impossible: \(reason)"] }
        return []
    }

    /// Why this host and configuration cannot give KVM huge mappings, or nil when they can.
    public var hugeMappingsImpossible: String? {
        Self.hugeMappingsImpossible(backing: guest.backing, guestPageSize: guest.guestPageSize,
                                    shadowPaging: HostPaging.current.isShadow)
    }

    static func hugeMappingsImpossible(backing: BackingKind, guestPageSize: GuestPageSize, shadowPaging: Bool) -> String? {
        if backing.pageSize < 2 << 20 {
            return "--backing \(backing.rawValue) gives 4 KiB host pages, and KVM never maps more than the host page behind a guest page"
        }
        if guestPageSize == .size4k && shadowPaging {
            return "the guest maps 4 KiB pages (--guest-page-size 4k) and this host uses shadow paging (\(HostPaging.current.module)), whose mappings are never larger than the guest's own"
        }
        return nil
    }

    /// The write percentage of vCPU `index` in `phase`.
    func writes(_ phase: Phase, vcpu index: Int) -> Int {
        if let writePercent { return writePercent }
        switch phase {
        case .create: return index % 2 == 0 ? 100 : 0
        case .update: return 100
        case .rebuild: return 0
        }
    }

    enum Phase: String, CaseIterable {
        case create, update, rebuild
        var metric: String {
            switch self {
            case .create: "create_mappings_time"
            case .update: "update_mappings_time"
            case .rebuild: "rebuild_blocks_time"
            }
        }
    }

    /// One repetition on a fresh VM.
    public func measure() throws -> Sample {
        if guest.backing == .guestMemfd { throw ScenarioUnsupported("page-table on guest-memfd: its update phase logs dirty pages, and \(GuestMemfdSupport.noDirtyLogging)") }
        let vm = try GuestVM(configuration: guest, maxPasses: 1)
        let vcpus = guest.vcpus
        var sample = Sample()
        var phaseStats: [String: [String: Int64]] = [:]
        var mappings: [String: [String: Int64]] = [:]
        func readMappings(_ name: String) {
            let values = vm.vmStatValues()
            let picked = ["pages_4k", "pages_2m", "pages_1g"].reduce(into: [String: Int64]()) { out, key in
                if let value = values[key] { out[key] = Int64(value) }
            }
            mappings[name] = picked
            phaseStats["after." + name] = picked
        }
        var perVCPU = [[String: Double]](repeating: [:], count: vcpus)
        readMappings("start")
        let start = vm.readStats()

        func run(_ phase: Phase, token: UInt64) throws {
            for index in 0..<vcpus {
                var workload = vm.defaultWorkload(index, token: token)
                workload.writePercent = writes(phase, vcpu: index)
                vm.setWorkload(index, workload)
            }
            let before = vm.readStats()
            let nanos = try vm.runPasses(1)
            let after = vm.readStats()
            sample.add(phase.metric, Double(nanos) / 1e9, unit: "s", better: .lower)
            var slowest: UInt64 = 0
            for index in 0..<vcpus {
                let pass = vm.passNanos(vcpu: index)
                slowest = max(slowest, pass)
                perVCPU[index][phase.metric] = Double(pass) / 1e9
                perVCPU[index]["\(phase.rawValue)_write_percent"] = Double(writes(phase, vcpu: index))
            }
            sample.add("\(phase.rawValue)_vcpu_time_max", Double(slowest) / 1e9, unit: "s", better: .lower, gate: false)
            phaseStats[phase.rawValue] = vm.statsDeltas(from: before, to: after)
            readMappings(phase.rawValue)
        }

        /// Sets or clears KVM_MEM_LOG_DIRTY_PAGES on every test slot; times the ioctls alone.
        func setDirtyLogging(_ enabled: Bool) throws -> UInt64 {
            let slots = vm.slots
            let flags = slots.map { enabled ? $0.flags.union(.logDirtyPages) : $0.flags.subtracting(.logDirtyPages) }
            let started = monotonicNanos()
            for (index, slot) in slots.enumerated() { try vm.vm.setMemslotFlags(slot, flags[index]) }
            let nanos = monotonicNanos() &- started
            for (index, slot) in slots.enumerated() {
                var changed = slot
                changed.flags = flags[index]
                vm.updateSlot(index, changed)
            }
            return nanos
        }

        try run(.create, token: 1)
        let enableNanos = try setDirtyLogging(true)
        readMappings("enable_dirty_log")
        try run(.update, token: 2)
        let disableNanos = try setDirtyLogging(false)
        readMappings("disable_dirty_log")
        try run(.rebuild, token: 3)
        let end = vm.readStats()

        sample.add("enable_dirty_log_time", Double(enableNanos) / 1e9, unit: "s", better: .lower)
        sample.add("disable_dirty_log_time", Double(disableNanos) / 1e9, unit: "s", better: .lower)
        sample.kvmStats = vm.statsDeltas(from: start, to: end)
        sample.phaseStats = phaseStats
        sample.perVCPU = perVCPU
        sample.notes += mappingNotes(mappings)
        if vcpus > ProcessInfo.processInfo.activeProcessorCount {
            sample.notes.append("\(vcpus) vCPUs on \(ProcessInfo.processInfo.activeProcessorCount) host CPUs: vCPUs time-share, expect up to 2x variation")
        }
        return sample
    }

    /// The phase boundaries in order, as recorded in `phaseStats` ("after." + name).
    public static let boundaries = ["start", "create", "enable_dirty_log", "update", "disable_dirty_log", "rebuild"]

    /// What the mapping counts show: a summary line, the reason huge mappings were impossible, or
    /// what did not happen as expected on a configuration that allows them.
    func mappingNotes(_ mappings: [String: [String: Int64]]) -> [String] {
        func huge(_ name: String) -> Int64 { mappings[name]?["pages_2m"] ?? 0 }
        var notes: [String] = []
        let trail = Self.boundaries.map { "\($0) \(huge($0))/\(mappings[$0]?["pages_4k"] ?? 0)" }.joined(separator: ", ")
        notes.append("mappings (pages_2m/pages_4k) after each step: \(trail)")
        if let reason = hugeMappingsImpossible {
            notes.append("huge mappings impossible: \(reason)")
            return notes
        }
        let created = huge("create"), updated = huge("update"), rebuilt = huge("rebuild")
        if created == 0 {
            let why = guest.backing == .thp ? " (THP gave no huge pages: check /sys/kernel/mm/transparent_hugepage/enabled and free memory)" : ""
            notes.append("unexpected on this host: no huge mappings after creating mappings, though the backing and guest page size allow them\(why)")
            return notes
        }
        let updateWrites = (0..<guest.vcpus).contains { writes(.update, vcpu: $0) > 0 }
        if updateWrites && updated >= created {
            notes.append("unexpected on this host: pages_2m did not fall while dirty logging was on (\(created) after create, \(updated) after update): huge mappings were not split")
        } else if updateWrites {
            notes.append("split: pages_2m fell from \(created) to \(updated) while dirty logging was on")
        }
        if rebuilt <= updated && updated < created {
            notes.append("unexpected on this host: pages_2m did not come back after dirty logging was disabled (\(updated) after update, \(rebuilt) after rebuild)")
        } else if updated < created {
            notes.append("rebuild: pages_2m came back from \(updated) to \(rebuilt) after dirty logging was disabled")
        }
        return notes
    }
}

/// How the host's KVM maps guest memory: two-dimensional paging (EPT/NPT) or shadow page tables.
public struct HostPaging: Sendable {
    /// The vendor module serving /dev/kvm (kvm_intel, kvm_amd, kvm_pvm).
    public var module: String
    /// True when KVM shadows the guest's page tables (PVM, or EPT/NPT turned off), so a KVM
    /// mapping is never larger than the guest's own mapping of the same address.
    public var isShadow: Bool

    public static let current: HostPaging = {
        func read(_ path: String) -> String? {
            (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let exists = { (module: String) in FileManager.default.fileExists(atPath: "/sys/module/\(module)") }
        if exists("kvm_pvm") { return HostPaging(module: "kvm_pvm", isShadow: true) }
        if exists("kvm_intel") { return HostPaging(module: "kvm_intel", isShadow: read("/sys/module/kvm_intel/parameters/ept") == "N") }
        if exists("kvm_amd") {
            let npt = read("/sys/module/kvm_amd/parameters/npt")
            return HostPaging(module: "kvm_amd", isShadow: npt == "0" || npt == "N")
        }
        return HostPaging(module: "kvm", isShadow: false)
    }()
}
