import Harness
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

/// The parameters of `memslots`: a few of the guest's, with the selftest's defaults, and its own.
public enum MemslotsParameters {
    public static let vcpus = GuestParameters.vcpus.described(
        help: "vCPU counts; they share each test's guest work", default: 1, note: "1, as the selftest's single worker")
    public static let memoryPerVCPU = GuestParameters.memoryPerVCPU.described(
        help: "guest memory per vCPU; the whole test area is this times --vcpus", default: nil,
        note: "512M in total, split over the vCPUs")
    public static let backing = GuestParameters.backing.described(allowed: "anonymous-4k, shmem, guest-memfd", default: .anonymous4k)
    public static let slots = GuestParameters.slots.described(
        help: "test memslot counts, e.g. 10,100,509,8192,32768, or max (the host maximum)",
        allowed: "1 or more, or max; above the host maximum runs at the maximum", default: nil, note: "max")
    public static let duration = Parameter<UInt64>.duration(
        "duration", help: "how long each test repeats its operation, e.g. 2s, 500ms",
        default: 2_000_000_000, plainUnit: 1e9, range: 1_000_000...3_600_000_000_000,
        problem: "expected a duration from 1ms to 1h (examples: 2s, 500ms)")
    public static let tests = Parameter<[MemslotTest]>.subset(
        "tests", help: "tests to run, comma-separated (one case runs them all)", what: "test")
    /// Shared with memslot-stress.
    public static let zapAllQuirk = Parameter<Bool>.bool(
        "zap_all_quirk", help: "disable KVM_X86_QUIRK_SLOT_ZAP_ALL (KVM_CAP_DISABLE_QUIRKS2) before creating slots; in suites zap_all_quirk: false",
        default: true, negated: "no-zap-all-quirk")
    public static let moveMethod = Parameter<MemslotMoveMethod?>(
        "move_method", help: "how the move tests move the slot: auto (in place where the host allows, else delete + create), in-place, delete-create",
        form: .option(valueName: "method"), allowed: "auto, in-place, delete-create", default: .some(nil),
        parse: { text, flag throws(ParameterError) in
            let word = text.trimmingCharacters(in: .whitespaces).lowercased()
            if word == "auto" { return nil }
            guard let method = MemslotMoveMethod(rawValue: word) else {
                throw ParameterError("\(flag) \(text): unknown; valid: auto, in-place, delete-create")
            }
            return method
        },
        format: { $0?.rawValue ?? "auto" })

    public static let table = ParameterTable([vcpus, memoryPerVCPU, backing, slots, duration, tests, zapAllQuirk, moveMethod])
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
    public static let parameterTable = MemslotsParameters.table
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

    public init(parameters: ParameterSet, limits: HostLimits) throws(ParameterError) {
        typealias Declared = MemslotsParameters
        let p = try Self.bind(parameters)
        vcpus = try p.value(Declared.vcpus)
        memoryPerVCPU = try p.given(Declared.memoryPerVCPU) ?? (vcpus >= 1 ? Self.defaultArea / UInt64(vcpus) / 4096 * 4096 : Self.defaultArea)
        backing = try p.value(Declared.backing)
        guard backing == .anonymous4k || backing == .shmem || backing == .guestMemfd else {
            throw ParameterError("--backing \(backing.rawValue): memslots needs 4 KiB host pages (slots of single pages, page-by-page MADV_DONTNEED); allowed: anonymous-4k, shmem, guest-memfd")
        }
        hostMaxSlots = limits.usableSlots
        // "max" (as suites write it) asks for the host maximum.
        requestedMax = p.string(Declared.slots.key)?.trimmingCharacters(in: .whitespaces).lowercased() == "max"
        slotsRequested = requestedMax ? max(1, hostMaxSlots) : try p.given(Declared.slots) ?? max(1, hostMaxSlots)
        if slotsRequested < 1 {
            throw ParameterError("--slots \(slotsRequested): must be at least 1; this host allows up to \(hostMaxSlots) test memslots (KVM_CAP_NR_MEMSLOTS \(limits.memslots) less kvmbench's slot 0)")
        }
        slotsEffective = hostMaxSlots >= 1 ? min(slotsRequested, hostMaxSlots) : slotsRequested
        duration = try p.value(Declared.duration)
        tests = try p.value(Declared.tests)
        zapAllQuirk = try p.value(Declared.zapAllQuirk)
        moveMethod = try p.value(Declared.moveMethod)
        // --- guest-memfd (issue 17) ---
        if backing == .guestMemfd {
            // map/unmap discard through the host mapping (MADV_DONTNEED), which KVM never faults
            // guest_memfd memory through: they would measure nothing of KVM's. The default set drops them.
            let discarding = tests.filter { [MemslotTest.map, .unmap, .unmap2m].contains($0) }
            if !p.has(Declared.tests) {
                tests = tests.filter { !discarding.contains($0) }
            } else if let first = discarding.first {
                throw ParameterError("--tests \(first.rawValue) with --backing guest-memfd: it discards memory with MADV_DONTNEED on the host mapping, and KVM maps guest_memfd memory from the file, never through that mapping (only a hole punched in the guest_memfd invalidates it); allowed with guest-memfd: move-active, move-inactive, rw")
            }
            if moveMethod == .inPlace {
                throw ParameterError("--move-method in-place with --backing guest-memfd: KVM keeps guest_memfd memslots immutable (a KVM_MR_MOVE of one fails with EINVAL); use auto or delete-create")
            }
        }

        let guest = GuestConfiguration(vcpus: vcpus, memoryPerVCPU: memoryPerVCPU, backing: backing, slots: slotsEffective)
        if let problem = guest.problem(limits: limits) { throw ParameterError(problem) }
        let pages = Int(guest.testSize / 4096)
        if pages < slotsEffective {
            throw ParameterError("--slots \(slotsEffective) needs at least one 4 KiB page per slot, and --mem-per-vcpu \(formatSize(memoryPerVCPU)) x --vcpus \(vcpus) gives \(pages) pages; raise --mem-per-vcpu to at least \(formatSize((UInt64(slotsEffective) + UInt64(vcpus) - 1) / UInt64(vcpus) * 4096))")
        }
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
        let started = MonotonicClock.now()
        try vm.addTestSlots()
        let setup = MonotonicClock.now() &- started
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
                let outcome = try MemslotLoops.move(vm, active: test == .moveActive, method: moveMethod, duration: duration, token: token)
                let method = outcome.method
                // The guest synchronises through memory: besides MMIO into the hole, only the final sync exit per vCPU.
                testMetrics.append(MetricSample(Self.metrics.vcpuExits(test.rawValue), Double(outcome.exits)))
                timing = outcome.timing
                sample.extraParameters["move_method"] = method.rawValue
                // Each iteration moves the slot away and back: 2 ioctls in place, 4 as delete + create.
                testMetrics.append(MetricSample(Self.metrics.ioctlsPerIteration(test.rawValue), method == .inPlace ? 2 : 4))
                phases[test.rawValue + ".single-move"] = outcome.checkStats
                if outcome.refused {
                    let note = "host refuses in-place KVM_MR_MOVE (EINVAL); measured delete + create"
                    if !sample.notes.contains(note) { sample.notes.append(note) }
                }
                if test == .moveActive {
                    mmioExits = outcome.mmioExits
                    testMetrics.append(MetricSample(Self.metrics.heldAwayMMIOExits(test.rawValue), Double(outcome.heldAwayMMIOExits)))
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
            testMetrics.append(MetricSample(Self.metrics.fastestIteration(name), Double(timing.best) / 1e9))
            testMetrics.append(MetricSample(Self.metrics.average(name), timing.average / 1e9))
            sample.bestOfRepetitions[Self.metrics.best(name).name] = Self.metrics.average(name).name
            testMetrics.append(MetricSample(Self.metrics.iterations(name), Double(timing.iterations)))
            testMetrics.append(MetricSample(Self.metrics.testSlotSetupTime(name), Double(setup) / 1e9))
            if let mmio = mmioExits {
                testMetrics.append(MetricSample(Self.metrics.mmioExits(name), Double(mmio)))
            }
        }
        if wholeAreaSetups.isEmpty {
            // No selected test used the whole area: time its slot setup on a VM of its own.
            let (_, setup) = try makeVM(area: wholeArea, context: context)
            wholeAreaSetups.append(setup)
        }
        sample.add(Self.metrics.slotSetupTime, Double(wholeAreaSetups.min()!) / 1e9)
        sample.metrics += testMetrics
        sample.kvmStats = total
        sample.phaseStats = phases
        return sample
    }
}
