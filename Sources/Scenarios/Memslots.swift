import Backings
import Foundation
import GuestPrograms
import KVM
import Results

/// One test of `memslots` (the kernel selftests' memslot_perf_test has the same six).
public enum MemslotTest: String, CaseIterable, Sendable {
    case map
    case unmap
    case unmap2m = "unmap-2m"
    case moveActive = "move-active"
    case moveInactive = "move-inactive"
    case rw

    /// Guest memory the test uses, as the selftest sizes it (capped by the whole test area).
    /// map: 32 MiB, the most that still gives well over 100 iterations at 509 slots, and so at most
    /// 8192 slots (each needs a page); unmap: 128 MiB, the least that gives every one of 32k slots
    /// a page while still giving 100+ iterations; the others use the whole area.
    func areaBytes(full: UInt64) -> UInt64 {
        switch self {
        case .map: min(32 << 20, full / 8192 * 8192)
        case .unmap, .unmap2m: min(128 << 20, full / (4 << 20) * (4 << 20))
        case .moveActive, .moveInactive, .rw: full
        }
    }

    /// Whether the test uses the whole area, so that its slot setup time is the case's (the selftest
    /// ranks only those, for comparability).
    var usesWholeArea: Bool { areaBytes(full: .max) == .max }
}

/// Memslot scalability (the kernel selftests' memslot_perf_test): guest memory split evenly
/// across `--slots` memslots (the last takes the remainder), the time to create them all, then six
/// tests that each repeat one operation for `--duration` and report the best and average time per
/// iteration:
///   map            the guest writes one half of a 32 MiB area while the host MADV_DONTNEEDs the
///                  other half, so KVM keeps faulting pages in across many slots;
///   unmap          the host drops a 128 MiB area page by page (one MMU-notifier invalidation each,
///                  whose cost grows with the slots KVM must look the address up in);
///   unmap-2m       the same in 2 MiB pieces;
///   move-active    the last slot moves away and back while the guest writes across its start;
///   move-inactive  the same while the guest writes elsewhere;
///   rw             host and guest write and check every page through their own slot translation.
/// Slot operations were O(n) in the slot count before the scalable-memslots rework (Linux 5.17)
/// and O(log n) after; the seed table of that series is what this scenario reproduces.
public struct MemslotsScenario: Scenario {
    public static let name = "memslots"
    public static let summary = "memslot_perf_test: slot setup time and map/unmap/move/rw cost with N memslots"
    public static let parameterKeys: [String: String] = [
        "duration": "how long each test repeats its operation (e.g. 2s, 500ms)",
        "tests": "comma-separated subset of \(MemslotTest.allCases.map(\.rawValue).joined(separator: ", "))",
        "zap_all_quirk": "keep KVM_X86_QUIRK_SLOT_ZAP_ALL (true) or disable it with KVM_CAP_DISABLE_QUIRKS2 (false)",
        "move_method": "how the move tests move the slot: auto (in place where the host allows, else delete + create), in-place, delete-create",
    ]
    /// The whole test area when neither --mem-per-vcpu nor --vcpus says otherwise: the selftest's 512 MiB,
    /// enough for 4 pages in each of 32k slots.
    public static let defaultArea: UInt64 = 512 << 20

    public var vcpus: Int
    public var memoryPerVCPU: UInt64
    public var backing: BackingKind
    public var slotsRequested: Int
    /// The request was `--slots max`.
    public var requestedMax = false
    public var slotsEffective: Int
    /// The host's KVM_CAP_NR_MEMSLOTS less kvmbench's own slot 0.
    public var hostMaxSlots: Int
    public var duration: UInt64
    public var tests: [MemslotTest]
    public var zapAllQuirk: Bool
    /// nil: in place where the host allows it (probed), else delete + create.
    public var moveMethod: MemslotMoveMethod?

    public init(parameters p: ParameterSet, limits: HostLimits) throws(ParameterError) {
        let accepted: Set<String> = ["vcpus", "mem_per_vcpu", "backing", "slots", "duration", "tests", "zap_all_quirk", "move_method"]
        if let key = p.unknownKeys(known: accepted).first {
            throw ParameterError("\(ParameterSet.flag(key)) does not apply to memslots; it takes \(accepted.sorted().map(ParameterSet.flag).joined(separator: ", "))")
        }
        vcpus = try p.int("vcpus", default: 1)
        memoryPerVCPU = try p.size("mem_per_vcpu", default: vcpus >= 1 ? Self.defaultArea / UInt64(vcpus) / 4096 * 4096 : Self.defaultArea)
        backing = try p.choice("backing", default: .anonymous4k)
        guard backing == .anonymous4k || backing == .shmem || backing == .guestMemfd else {
            throw ParameterError("--backing \(backing.rawValue): memslots needs 4 KiB host pages (slots of single pages, page-by-page MADV_DONTNEED); allowed: anonymous-4k, shmem, guest-memfd")
        }
        hostMaxSlots = limits.usableSlots
        // "max" (as suites write it) asks for the host maximum.
        requestedMax = p.string("slots")?.trimmingCharacters(in: .whitespaces).lowercased() == "max"
        slotsRequested = requestedMax ? max(1, hostMaxSlots) : try p.int("slots", default: max(1, hostMaxSlots))
        if slotsRequested < 1 {
            throw ParameterError("--slots \(slotsRequested): must be at least 1; this host allows up to \(hostMaxSlots) test memslots (KVM_CAP_NR_MEMSLOTS \(limits.memslots) less kvmbench's slot 0)")
        }
        slotsEffective = hostMaxSlots >= 1 ? min(slotsRequested, hostMaxSlots) : slotsRequested
        duration = try Self.duration(p.string("duration") ?? "2s", flag: "--duration")
        tests = try Self.tests(p.string("tests"))
        // --- guest-memfd (issue 17) ---
        if backing == .guestMemfd {
            // map/unmap discard through the host mapping (MADV_DONTNEED), which KVM never faults
            // guest_memfd memory through: they would measure nothing of KVM's. The default set drops them.
            let discarding = tests.filter { [MemslotTest.map, .unmap, .unmap2m].contains($0) }
            if p.string("tests") == nil {
                tests = tests.filter { !discarding.contains($0) }
            } else if let first = discarding.first {
                throw ParameterError("--tests \(first.rawValue) with --backing guest-memfd: it discards memory with MADV_DONTNEED on the host mapping, and KVM maps guest_memfd memory from the file, never through that mapping (only a hole punched in the guest_memfd invalidates it); allowed with guest-memfd: move-active, move-inactive, rw")
            }
            if p.string("move_method")?.lowercased() == "in-place" {
                throw ParameterError("--move-method in-place with --backing guest-memfd: KVM keeps guest_memfd memslots immutable (a KVM_MR_MOVE of one fails with EINVAL); use auto or delete-create")
            }
        }
        zapAllQuirk = try p.bool("zap_all_quirk", default: true)
        switch p.string("move_method")?.lowercased() {
        case nil, "auto": moveMethod = nil
        case let text?:
            guard let method = MemslotMoveMethod(rawValue: text) else {
                throw ParameterError("--move-method \(text): unknown; valid: auto, in-place, delete-create")
            }
            moveMethod = method
        }

        let guest = GuestConfiguration(vcpus: vcpus, memoryPerVCPU: memoryPerVCPU, backing: backing, slots: slotsEffective)
        if let problem = guest.problem(limits: limits) { throw ParameterError(problem) }
        let pages = Int(guest.testSize / 4096)
        if pages < slotsEffective {
            throw ParameterError("--slots \(slotsEffective) needs at least one 4 KiB page per slot, and --mem-per-vcpu \(formatSize(memoryPerVCPU)) x --vcpus \(vcpus) gives \(pages) pages; raise --mem-per-vcpu to at least \(formatSize((UInt64(slotsEffective) + UInt64(vcpus) - 1) / UInt64(vcpus) * 4096))")
        }
    }

    /// Parses "2s", "500ms", "250us", "1.5" (seconds) into nanoseconds, from 1 ms to 1 h.
    public static func duration(_ text: String, flag: String) throws(ParameterError) -> UInt64 {
        guard let nanos = parseDuration(text, plainUnit: 1e9), nanos >= 1_000_000, nanos <= 3_600_000_000_000 else {
            throw ParameterError("\(flag) \(text): expected a duration from 1ms to 1h (examples: 2s, 500ms)")
        }
        return nanos
    }

    static func tests(_ text: String?) throws(ParameterError) -> [MemslotTest] {
        guard let text else { return MemslotTest.allCases }
        var out: [MemslotTest] = []
        for item in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) where !item.isEmpty {
            guard let test = MemslotTest(rawValue: item) else {
                throw ParameterError("--tests \(item): unknown test; valid: \(MemslotTest.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if !out.contains(test) { out.append(test) }
        }
        if out.isEmpty { throw ParameterError("--tests needs at least one of \(MemslotTest.allCases.map(\.rawValue).joined(separator: ", "))") }
        return MemslotTest.allCases.filter(out.contains)
    }

    public var parameters: [String: String] {
        [
            "vcpus": "\(vcpus)", "mem_per_vcpu": formatSize(memoryPerVCPU), "backing": backing.rawValue,
            "slots_requested": requestedMax ? "max" : "\(slotsRequested)", "slots_effective": "\(slotsEffective)",
            "duration": formatDuration(duration), "tests": tests.map(\.rawValue).joined(separator: ","),
            "zap_all_quirk": "\(zapAllQuirk)", "move_method": moveMethod?.rawValue ?? "auto",
        ]
    }

    public var notices: [String] {
        guard slotsRequested > slotsEffective else { return [] }
        return ["--slots \(slotsRequested) is above this host's maximum of \(hostMaxSlots) test memslots (KVM_CAP_NR_MEMSLOTS \(hostMaxSlots + HostLimits.reservedSlots) less \(HostLimits.reservedSlots) kvmbench keeps for its code and page tables): running with \(hostMaxSlots)"]
    }

    /// Bytes of the whole test area.
    public var wholeArea: UInt64 { memoryPerVCPU * UInt64(vcpus) }

    /// Why `test` cannot run with this slot count, or nil. Decided before any VM exists.
    public func notRunReason(_ test: MemslotTest) -> String? {
        let area = test.areaBytes(full: wholeArea)
        let pages = Int(area / 4096)
        switch test {
        case .map, .unmap, .unmap2m:
            let minimum = test == .map ? 2 : 1024
            if pages < minimum { return "needs at least \(formatBytes(UInt64(minimum) * 4096)) of guest memory; raise --mem-per-vcpu" }
            if pages < slotsEffective {
                return "its \(formatBytes(area)) area has \(pages) pages, fewer than the \(slotsEffective) slots (each needs a page); it runs with at most \(pages) slots"
            }
        case .moveActive, .moveInactive:
            return MemslotLoops.moveProblem(active: test == .moveActive, slots: slotsEffective, pages: pages)
        case .rw:
            break
        }
        return nil
    }

    /// The guest of one test: its area in `slotsEffective` slots, all vCPUs sharing it.
    func configuration(area: UInt64) -> GuestConfiguration {
        GuestConfiguration(vcpus: vcpus, memoryPerVCPU: area, backing: backing, slots: slotsEffective, sharedRegion: true)
    }

    /// Builds a VM for `area` with the test slots deferred, then times their creation.
    func makeVM(area: UInt64, context: CaseContext, userCode: [UInt8] = WorkloadProgram.code) throws -> (GuestVM, UInt64) {
        let quirk = zapAllQuirk
        let vm = try GuestVM(configuration: configuration(area: area), context: context, maxPasses: 2, deferTestSlots: true, userCode: userCode) { vm in
            if !quirk { try Self.disableZapAllQuirk(vm) }
        }
        // Zero passes: returns once every vCPU thread has started and parked, so thread start-up
        // does not overlap the timed loop.
        try vm.runPasses(0)
        let started = monotonicNanos()
        try vm.addTestSlots()
        let setup = monotonicNanos() &- started
        return (vm, setup)
    }

    /// Turns KVM_X86_QUIRK_SLOT_ZAP_ALL off for `vm` (before any memslot exists), or explains why it cannot.
    static func disableZapAllQuirk(_ vm: borrowing VirtualMachine) throws {
        let available = vm.disableableQuirks
        guard available.contains(.slotZapAll) else {
            throw ScenarioUnsupported("this host cannot disable KVM_X86_QUIRK_SLOT_ZAP_ALL (KVM_CAP_DISABLE_QUIRKS2 offers \(hex(available.rawValue)), bit \(hex(X86Quirks.slotZapAll.rawValue)) missing)")
        }
        try vm.disableQuirks(.slotZapAll)
    }

    /// One repetition: one fresh VM per test, as the selftest does.
    public func measure(in context: CaseContext) throws -> Sample {
        var sample = Sample()
        var wholeAreaSetups: [UInt64] = []
        var total: [String: Int64] = [:]
        var phases: [String: [String: Int64]] = [:]
        var testMetrics: [MetricSample] = []
        let token: UInt64 = 0x1122_3344_5566_7788
        for test in tests {
            if let reason = notRunReason(test) {
                sample.notes.append("\(test.rawValue): not run: \(reason)")
                continue
            }
            let area = test.areaBytes(full: wholeArea)
            let program = test == .rw ? MemslotRWProgram.code
                : (test == .moveActive || test == .moveInactive ? MemslotMoveProgram.code : WorkloadProgram.code)
            let (vm, setup) = try makeVM(area: area, context: context, userCode: program)
            if test.usesWholeArea { wholeAreaSetups.append(setup) }
            // The selftest zeroes every slot's memory before the guest runs: host pages are present.
            vm.testMemory.prefault()
            let map = MemslotMap(slots: vm.slots)
            let before = vm.readStats()
            var mmioExits: Int? = nil
            let timing: LoopTiming
            switch test {
            case .map: timing = try MemslotLoops.map(vm, map, duration: duration, token: token)
            case .unmap: timing = try MemslotLoops.unmap(vm, map, chunk: 1, duration: duration, token: token)
            case .unmap2m: timing = try MemslotLoops.unmap(vm, map, chunk: 512, duration: duration, token: token)
            case .moveActive, .moveInactive:
                let (loop, method, refused, mmio, exits) = try MemslotLoops.move(vm, active: test == .moveActive, method: moveMethod,
                                                                        duration: duration, token: token)
                // The guest synchronises through memory: besides MMIO into the hole, only the final sync exit per vCPU.
                testMetrics.append(MetricSample("\(test.rawValue).vcpu_exits", Double(exits), unit: "count", better: .lower, gate: false))
                timing = loop
                sample.extraParameters["move_method"] = method.rawValue
                // Each iteration moves the slot away and back: 2 ioctls in place, 4 as delete + create.
                testMetrics.append(MetricSample("\(test.rawValue).ioctls_per_iteration", method == .inPlace ? 2 : 4, unit: "count",
                                                better: .lower, gate: false))
                if refused {
                    let note = "host refuses in-place KVM_MR_MOVE (EINVAL); measured delete + create"
                    if !sample.notes.contains(note) { sample.notes.append(note) }
                }
                if test == .moveActive {
                    mmioExits = mmio
                    let pages = MemslotLoops.moveActivePages(slots: slotsEffective, pages: map.pageCount)
                    if pages < MemslotLoops.movePages {
                        sample.notes.append("move-active: the last slot holds only \(pages / 2) pages, so the guest writes \(pages) pages (half on each side of the slot's start) instead of \(MemslotLoops.movePages)")
                    }
                }
            case .rw: timing = try MemslotLoops.rw(vm, map, duration: duration)
            }
            let deltas = vm.statsDeltas(from: before, to: vm.readStats())
            phases[test.rawValue] = deltas
            let types = vm.statTypes
            sample.kvmStatTypes = types
            // Peaks are maxima: the case's figure is the highest of any test, not a sum.
            for (name, value) in deltas { total[name] = types[name] == "peak" ? max(total[name] ?? 0, value) : (total[name] ?? 0) + value }
            let name = test.rawValue
            if timing.iterations == 0 {
                sample.notes.append("\(name): no iteration finished within \(formatDuration(duration)); raise --duration")
                continue
            }
            // memslot_perf_test's "best" is the best run's average per iteration: the case's
            // `.best` is derived from the repetitions' `.average` (CaseRunner); the single fastest
            // iteration is `.fastest_iteration`.
            testMetrics.append(MetricSample("\(name).fastest_iteration", Double(timing.best) / 1e9, unit: "s", better: .lower, gate: false))
            testMetrics.append(MetricSample("\(name).average", timing.average / 1e9, unit: "s", better: .lower))
            sample.bestOfRepetitions["\(name).best"] = "\(name).average"
            testMetrics.append(MetricSample("\(name).iterations", Double(timing.iterations), unit: "count", better: .higher, gate: false))
            testMetrics.append(MetricSample("\(name).slot_setup_time", Double(setup) / 1e9, unit: "s", better: .lower, gate: false))
            if let mmio = mmioExits {
                testMetrics.append(MetricSample("\(name).mmio_exits", Double(mmio), unit: "count", better: .lower, gate: false))
            }
        }
        if wholeAreaSetups.isEmpty {
            // No selected test used the whole area: time its slot setup on a VM of its own.
            let (_, setup) = try makeVM(area: wholeArea, context: context)
            wholeAreaSetups.append(setup)
        }
        sample.add("slot_setup_time", Double(wholeAreaSetups.min()!) / 1e9, unit: "s", better: .lower)
        sample.metrics += testMetrics
        sample.kvmStats = total
        sample.phaseStats = phases
        return sample
    }
}
