import Harness
import Backings
import Foundation
import GuestPrograms
import KVM
import Results

/// KVM's page-table life cycle under dirty logging (the kernel selftests' kvm_page_table_test),
/// in three timed phases on one VM:
///
/// 1. **create mappings**: every vCPU touches the first 8 bytes of every large page (the backing's
///    page size; 4 KiB pages on a 4 KiB backing) for the first time; KVM builds its mappings,
///    huge ones (2 MiB) where the host backing and the guest's own page size allow. Even-numbered
///    vCPUs write, odd ones read.
/// 2. **update mappings**: dirty logging is enabled on every test memslot (KVM write-protects the
///    slot, and x86 stops creating huge mappings in it so each 4 KiB write can be logged); then
///    every vCPU writes the first host page of each large page and reads the host pages of its
///    second half (on a 4 KiB backing: writes every page): write-protection faults, and each huge
///    mapping is dropped and rebuilt as 4 KiB ones (the "split").
/// 3. **rebuild blocks**: dirty logging is disabled (x86 zaps the 4 KiB mappings that could be
///    huge again, kvm_mmu_zap_collapsible_sptes), then every vCPU reads every 4 KiB page and the
///    faults rebuild huge mappings.
///
/// As in the selftest, by default every vCPU walks one region shared by all of them and
/// `--mem-per-vcpu` is the region's (the whole test memory's) size, the selftest's `-b`;
/// `--region private` gives each vCPU a region of its own of that size instead. The host
/// backing is populated before the first phase, so no phase pays for host page allocation
/// (`host_minor_faults` in each phase's stats counts what the phase did allocate).
/// `--write-percent` replaces the selftest's read/write choice of each first access with one
/// percentage for every vCPU and phase. The VM-wide `pages_4k`/`pages_2m`/`pages_1g` stats are
/// read at each phase boundary (`phaseStats["after.create"]`, ...).
public struct PageTableScenario: Scenario {
    public static let name = "page-table"
    public static let summary = "create, update (dirty logging splits huge mappings) and rebuild KVM's mappings (kvm_page_table_test)"
    public static let parameterTable = ParameterTable(GuestParameters.all + [
        GuestParameters.memoryPerVCPU.defaulting(to: 256 << 20), GuestParameters.backing.defaulting(to: .thp),
        GuestParameters.guestPageSize.defaulting(to: .size2m),
        GuestParameters.writePercent.described(
            help: "percentage of accesses that write, for every vCPU and phase; selftest: even vCPUs write and odd ones read while creating mappings, the first host page of each large page is written and the rest of its second half read while updating, all read while rebuilding",
            allowed: "0...100 or selftest", default: 100, note: selftestWrites),
        region,
    ])
    public static let region = Parameter<RegionShape>.choice(
        "region", help: "shared: every vCPU walks one region of --mem-per-vcpu bytes (the selftest's -b); private: one region of --mem-per-vcpu bytes per vCPU",
        default: .shared, valueName: "shared|private")

    /// The recorded `write_percent` when the selftest's per-phase access types are used.
    public static let selftestWrites = "selftest"

    /// How the vCPUs share the test memory.
    public enum RegionShape: String, CaseIterable, Sendable {
        /// One region, walked by every vCPU (kvm_page_table_test).
        case shared
        /// One region per vCPU.
        case `private`
    }

    public var guest: GuestConfiguration
    /// One write percentage for every vCPU and phase; nil: the selftest's access types.
    public var writePercent: Int?

    public init(guest: GuestConfiguration, writePercent: Int? = nil) {
        var guest = guest
        guest.hostPrefault = true
        self.guest = guest
        self.writePercent = writePercent
    }

    public init(parameters: ParameterSet, limits: HostLimits) throws(ParameterError) {
        var p = try Self.bind(parameters)
        let given = p.string(GuestParameters.writePercent.key)
        let selftest = given == nil || given?.lowercased() == Self.selftestWrites
        if selftest { p = p.setting(GuestParameters.writePercent.key, to: nil) }
        let region = try p.value(Self.region)
        p = p.setting(GuestParameters.sharedRegion.key, to: GuestParameters.sharedRegion.format(region == .shared))
            .setting(GuestParameters.hostPrefault.key, to: GuestParameters.hostPrefault.format(true))
        guest = try GuestConfiguration(parameters: p, limits: limits)
        writePercent = selftest ? nil : guest.writePercent
    }

    /// The region shape this case runs.
    public var region: RegionShape { guest.sharedRegion ? .shared : .private }

    public var parameters: [String: String] {
        var out = guest.recorded
        out["write_percent"] = writePercent.map { "\($0)" } ?? Self.selftestWrites
        out[Self.region.key] = Self.region.format(region)
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

    /// The write percentage of vCPU `index`'s first access to each block in `phase`.
    func writes(_ phase: Phase, vcpu index: Int) -> Int {
        if let writePercent { return writePercent }
        switch phase {
        case .create: return index % 2 == 0 ? 100 : 0
        case .update: return 100
        case .rebuild: return 0
        }
    }

    /// The selftest's `large_page_size`: the backing's page size (4 KiB for 4 KiB backings).
    var largePageSize: UInt64 { max(guest.backing.pageSize, 4096) }

    /// What vCPU `index` touches in `phase`, as kvm_page_table_test's guest does.
    func phaseParameters(_ phase: Phase, vcpu index: Int, layout: GuestLayout, token: UInt64) -> PageTablePhaseParameters {
        let size = guest.memoryPerVCPU
        let base = layout.testBase + (guest.sharedRegion ? 0 : UInt64(index) * size)
        let large = largePageSize
        let write = writes(phase, vcpu: index)
        switch phase {
        case .create:
            return PageTablePhaseParameters(base: base, blocks: size / large, blockSize: large, writePercent: write, token: token)
        case .update where large > 4096:
            return PageTablePhaseParameters(base: base, blocks: size / large, blockSize: large, writePercent: write,
                                            readsPerBlock: large / 4096 / 2, readOffset: large / 2, token: token)
        case .update, .rebuild:
            return PageTablePhaseParameters(base: base, blocks: size / 4096, blockSize: 4096, writePercent: write, token: token)
        }
    }

    enum Phase: String, CaseIterable {
        case create, update, rebuild
        var metric: MetricDefinition {
            switch self {
            case .create: PageTableScenario.metrics.createMappingsTime
            case .update: PageTableScenario.metrics.updateMappingsTime
            case .rebuild: PageTableScenario.metrics.rebuildBlocksTime
            }
        }
    }

    /// One repetition on a fresh VM.
    public func measure(in context: CaseContext) throws -> Sample {
        if guest.backing == .guestMemfd { throw ScenarioUnsupported("page-table on guest-memfd: its update phase logs dirty pages, and \(GuestMemfdSupport.noDirtyLogging)") }
        let vm = try GuestVM(configuration: guest, context: context, maxPasses: 1, userCode: PageTableProgram.code)
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
                vm.setWorkload(index, phaseParameters(phase, vcpu: index, layout: vm.layout, token: token))
            }
            let before = vm.readStats()
            let faultsBefore = hostMinorFaults()
            let nanos = try vm.runPasses(1)
            let faultsAfter = hostMinorFaults()
            let after = vm.readStats()
            sample.add(phase.metric, Double(nanos) / 1e9)
            var slowest: UInt64 = 0
            for index in 0..<vcpus {
                let pass = vm.passNanos(vcpu: index)
                slowest = max(slowest, pass)
                perVCPU[index][phase.metric.name] = Double(pass) / 1e9
                perVCPU[index]["\(phase.rawValue)_write_percent"] = Double(writes(phase, vcpu: index))
            }
            sample.add(Self.metrics.vcpuTimeMax(phase.rawValue), Double(slowest) / 1e9)
            phaseStats[phase.rawValue] = vm.statsDeltas(from: before, to: after)
            // Host page faults of the whole process during the phase: the backing was populated
            // before the first phase, so these are allocations (or copy-on-write) the phase paid for.
            phaseStats[phase.rawValue]?["host_minor_faults"] = Int64(faultsAfter &- faultsBefore)
            readMappings(phase.rawValue)
        }

        /// Sets or clears KVM_MEM_LOG_DIRTY_PAGES on every test slot; times the ioctls alone.
        func setDirtyLogging(_ enabled: Bool) throws -> UInt64 {
            let flags = vm.slots.map { enabled ? $0.flags.union(.logDirtyPages) : $0.flags.subtracting(.logDirtyPages) }
            let started = MonotonicClock.now()
            for index in flags.indices { try vm.setTestSlotFlags(index, flags[index]) }
            return MonotonicClock.now() &- started
        }

        try run(.create, token: 1)
        let enableNanos = try setDirtyLogging(true)
        readMappings("enable_dirty_log")
        try run(.update, token: 2)
        let disableNanos = try setDirtyLogging(false)
        readMappings("disable_dirty_log")
        try run(.rebuild, token: 3)
        let end = vm.readStats()

        sample.add(Self.metrics.enableDirtyLogTime, Double(enableNanos) / 1e9)
        sample.add(Self.metrics.disableDirtyLogTime, Double(disableNanos) / 1e9)
        sample.setKVMStats(vm.statsReport(from: start, to: end))
        sample.phaseStats = phaseStats
        sample.perVCPU = perVCPU
        sample.notes += mappingNotes(mappings)
        if vcpus > ProcessInfo.processInfo.activeProcessorCount {
            sample.notes.append("\(vcpus) vCPUs on \(ProcessInfo.processInfo.activeProcessorCount) host CPUs: vCPUs time-share, expect up to 2x variation")
        }
        return sample
    }

    /// Minor page faults of this process so far (getrusage: KVM's get_user_pages counts too).
    func hostMinorFaults() -> UInt64 {
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        return UInt64(usage.ru_minflt)
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
