import Harness
import Backings
import Foundation
import GuestPrograms
import KVM

/// One repetition of the dirty-logging scenario: the VM, the preallocated harvest buffers, and
/// the figures collected phase by phase. Runs on one thread (the vCPU threads only reach the ring
/// harvester, which has its own locks).
final class DirtyLogSession {
    let guest: GuestConfiguration
    let options: DirtyLoggingOptions
    let vm: GuestVM
    /// 4 KiB pages of test memory and 64-bit words of a bitmap over them.
    let pages: Int
    let words: Int
    let testBase: UInt64
    let slotBitmaps: SlotBitmaps?
    let rings: RingHarvester?
    /// Pages holding the current pass's token; pages KVM reported. Preallocated, reused every pass.
    var written: [UInt64]
    var harvested: [UInt64]
    var dropOneHarvestedPage = false
    var addOneHarvestedPage = false
    var sample = Sample()
    var phaseStats: [String: [String: Int64]] = [:]

    init(guest: GuestConfiguration, options: DirtyLoggingOptions, context: CaseContext) throws {
        self.guest = guest
        self.options = options
        let mode = options.mode
        let vm: GuestVM
        do {
            // Manual protect must be enabled before any slot carries KVM_MEM_LOG_DIRTY_PAGES, and the
            // ring before any vCPU exists: GuestVM enables the ring, prepareVM does the rest.
            vm = try GuestVM(configuration: guest, context: context, maxPasses: 2, dirtyRingEntries: mode == .ring ? options.ringEntries : 0) { vm in
                if mode.usesManualProtect { try vm.enableManualDirtyLogProtect(initiallySet: mode == .manualInitiallySet) }
            }
        } catch let error as KVMError where mode == .ring && error.operation == "KVM_ENABLE_CAP" {
            throw ScenarioUnsupported("this host refused a dirty ring of \(options.ringEntries) entries (\(error)); KVM also reserves the CPU's dirty-log buffer (512 entries with Intel PML), try a larger --ring-size")
        }
        // Decided before anything is timed: unsupported here with the reason.
        if options.populate == .preFault { try vm.checkPreFaultSupport() }
        self.vm = vm
        testBase = vm.layout.testBase
        pages = Int(guest.testSize / 4096)
        words = (pages + 63) / 64
        written = [UInt64](repeating: 0, count: words)
        harvested = [UInt64](repeating: 0, count: words)
        let slots = vm.slots
        if mode == .ring {
            var copies: [DirtyRing] = []
            for index in 0..<vm.vcpuCount {
                // The one copy of the ring state that is harvested from here on (see RingHarvestState).
                guard let ring = vm.dirtyRing(vcpu: index) else {
                    throw ScenarioUnsupported("vCPU \(index) has no dirty ring mapped")
                }
                copies.append(ring)
            }
            let harvester = RingHarvester(rings: copies, map: SlotPageMap(slots: slots, testBase: testBase), pages: pages,
                                          resetter: vm.dirtyRingResetter)
            vm.onDirtyRingFull { index in harvester.handleFull(vcpu: index) }
            rings = harvester
            slotBitmaps = nil
        } else {
            rings = nil
            slotBitmaps = SlotBitmaps(slots: slots, testBase: testBase)
        }
        if vm.slots.count != guest.slots { sample.extraParameters["slots_effective"] = "\(vm.slots.count)" }
    }

    // MARK: Phases shared by both ways of running

    /// Records the stats deltas of `phase` and the VM's page counts at its end; returns the new reading.
    @discardableResult
    func endPhase(_ phase: String, from before: GuestVM.StatsReading) -> GuestVM.StatsReading {
        let now = vm.readStats()
        phaseStats[phase] = vm.statsDeltas(from: before, to: now)
        var at: [String: Int64] = [:]
        for (name, value) in vm.vmStatValues() where name.hasPrefix("pages_") { at[name] = Int64(clamping: value) }
        phaseStats["at." + phase] = at
        return now
    }

    func pages2M(at phase: String) -> Double { Double(phaseStats["at." + phase]?["pages_2m"] ?? 0) }

    /// The selftest's population pass: 100% sequential writes, so every page is really allocated
    /// (not mapped to the zero page) before logging starts. Token 0.
    func populate() throws -> UInt64 {
        if options.populate == .preFault { return try vm.preFaultTestMemory() }
        for index in 0..<vm.vcpuCount {
            var workload = vm.defaultWorkload(index, token: 0)
            workload.writePercent = 100
            workload.random = false
            vm.setWorkload(index, workload)
        }
        let nanos = try vm.runPasses(1)
        for index in 0..<vm.vcpuCount { vm.setWorkload(index, vm.defaultWorkload(index, token: 0)) }
        return nanos
    }

    /// Sets or clears KVM_MEM_LOG_DIRTY_PAGES on every test slot; returns the nanoseconds of the
    /// KVM_SET_USER_MEMORY_REGION calls alone.
    func setLogging(_ enabled: Bool) throws -> UInt64 {
        let count = vm.slots.count
        let flags: MemslotFlags = enabled ? [.logDirtyPages] : []
        let started = MonotonicClock.now()
        for index in 0..<count { try vm.setTestSlotFlags(index, flags) }
        return MonotonicClock.now() &- started
    }

    /// Waits (outside any timed region) until the continuously running vCPUs finished a pass, so
    /// they are known to be in the guest writing.
    func waitForContinuousPass() {
        let deadline = MonotonicClock.now() + 30_000_000_000
        while vm.continuousPasses < 1 && MonotonicClock.now() < deadline { usleep(200) }
    }

    /// Disables logging (with the vCPUs writing when asked), then one pass that rebuilds the
    /// mappings logging split. Adds disable and rebuild figures.
    func disableAndRebuild(lastToken: UInt64, from before: GuestVM.StatsReading) throws {
        if options.keepRunningOnDisable {
            vm.setToken(lastToken + 1)
            vm.startContinuous()
            waitForContinuousPass()
        }
        let disableNanos: UInt64
        do {
            disableNanos = try setLogging(false)
        } catch {
            if options.keepRunningOnDisable { try? vm.stop() }
            throw error
        }
        if options.keepRunningOnDisable { try vm.stop() }
        let afterDisable = endPhase("disable", from: before)
        vm.setToken(lastToken + 2)
        let rebuildNanos = try vm.runPasses(1)
        endPhase("rebuild", from: afterDisable)
        sample.add(DirtyLoggingScenario.metrics.disableDirtyLoggingTime, Double(disableNanos) / 1e9)
        sample.add(DirtyLoggingScenario.metrics.rebuildTime, Double(rebuildNanos) / 1e9)
        sample.add(DirtyLoggingScenario.metrics.pages2MAfterDisable, pages2M(at: "disable"))
        sample.add(DirtyLoggingScenario.metrics.pages2MAfterRebuild, pages2M(at: "rebuild"))
    }

    /// Throws when the ring harvester saw an entry outside the test memory or a failed reset.
    func checkRingHealth() throws {
        guard let rings else { return }
        let totals = rings.totals()
        if let first = totals.firstOutside {
            throw DirtyRingOutsideTestMemory(slot: first.slot, offset: first.offset, count: totals.outside)
        }
        if totals.resetErrno != 0 { throw DirtyRingResetFailed(errno: totals.resetErrno) }
    }

    // MARK: Iterations (dirty_log_perf_test)

    func measureIterations() throws -> Sample {
        let vcpus = vm.vcpuCount
        let iterations = options.iterations
        let mode = options.mode
        var reading = vm.readStats()
        let populateNanos = try populate()
        reading = endPhase("populate", from: reading)
        let enableNanos = try setLogging(true)
        reading = endPhase("enable", from: reading)

        var dirty = [Double](), get = [Double](), clear = [Double](), verify = [Double]()
        var writtenCounts = [Int](), harvestedCounts = [Int](), fullExits = [Int]()
        var perVCPUDirty = [[Double]](repeating: [], count: vcpus)
        var guestDirty = [Double](), ringFull = [Double]()
        var handlerNanos = (0..<vcpus).map { index in rings.map { $0.vcpus[index].handlerNanos } ?? 0 }
        var ringEntriesBefore = 0
        for pass in 1...iterations {
            vm.setToken(UInt64(pass))
            let fullBefore = vm.dirtyRingFullExits
            let dirtyNanos = try vm.runPasses(1)
            dirty.append(Double(dirtyNanos) / 1e9)
            // Each vCPU's pass less its own thread's time in the ring-full handler (read parked).
            var slowestGuest: UInt64 = 0, handlerSum: UInt64 = 0
            for index in 0..<vcpus {
                let passNanos = vm.passNanos(vcpu: index)
                perVCPUDirty[index].append(Double(passNanos) / 1e9)
                let handled = rings.map { $0.vcpus[index].handlerNanos } ?? 0
                let inPass = handled &- handlerNanos[index]
                handlerNanos[index] = handled
                handlerSum &+= inPass
                slowestGuest = max(slowestGuest, passNanos &- min(inPass, passNanos))
            }
            guestDirty.append(Double(slowestGuest) / 1e9)
            ringFull.append(Double(handlerSum) / 1e9)
            fullExits.append(vm.dirtyRingFullExits - fullBefore)

            var getNanos: UInt64 = 0, clearNanos: UInt64 = 0
            if let slotBitmaps {
                getNanos = try slotBitmaps.getAll(vm)
                if mode.usesManualProtect { clearNanos = try slotBitmaps.clearAll(vm) }
            } else if let rings {
                // The vCPUs are parked: harvest every ring, then one KVM_RESET_DIRTY_RINGS.
                for state in rings.vcpus { getNanos &+= state.harvest(map: rings.map).nanos }
                let started = MonotonicClock.now()
                try vm.resetDirtyRings()
                clearNanos = MonotonicClock.now() &- started
            }
            get.append(Double(getNanos) / 1e9)
            clear.append(Double(clearNanos) / 1e9)
            reading = endPhase("iteration.\(pass)", from: reading)

            // Verification, outside every timed region (and timed as its own figure).
            let verifyStarted = MonotonicClock.now()
            let writtenCount = DirtyLogVerification.scanWritten(memory: vm.testMemoryView, pages: pages, token: UInt64(pass), into: &written)
            for index in harvested.indices { harvested[index] = 0 }
            var harvestedCount = 0
            if let slotBitmaps {
                var outside = 0
                harvestedCount = slotBitmaps.merge(into: &harvested, outside: &outside)
                if outside > 0 { throw DirtyLogBitsPastSlotEnd(count: outside, pass: pass) }
            } else if let rings {
                for state in rings.vcpus { state.drain(into: &harvested) }
                let entries = rings.totals().entries
                harvestedCount = entries - ringEntriesBefore
                ringEntriesBefore = entries
                try checkRingHealth()
            }
            // Exactly the pages written since the previous clear: this pass's, or under
            // manual-initially-set every page before the first clear (KVM starts with all bits set).
            if mode == .manualInitiallySet && pass == 1 { written = DirtyLogVerification.allPages(pages, words: words) }
            if dropOneHarvestedPage, let page = DirtyLogVerification.firstMissingPage(written: written, harvested: [UInt64](repeating: 0, count: words)) {
                harvested[page >> 6] &= ~(1 << UInt64(page & 63))
            }
            if addOneHarvestedPage && pass == iterations, let page = DirtyLogVerification.firstMissingPage(written: written.map { ~$0 }, harvested: [UInt64](repeating: 0, count: words)), page < pages {
                harvested[page >> 6] |= 1 << UInt64(page & 63)
            }
            try DirtyLogVerification.checkExact(expected: written, harvested: harvested, testBase: testBase, pass: pass, mode: mode)
            verify.append(Double(MonotonicClock.now() &- verifyStarted) / 1e9)
            writtenCounts.append(writtenCount)
            harvestedCounts.append(harvestedCount)
        }
        let afterIterations = pages2M(at: "iteration.\(iterations)")
        try disableAndRebuild(lastToken: UInt64(iterations), from: reading)

        // Figures, as dirty_log_perf_test prints them: each phase, totals and averages over iterations.
        let n = Double(iterations)
        func sum(_ values: [Double]) -> Double { values.reduce(0, +) }
        let getName = mode == .ring ? "harvest" : "get_dirty_log"
        let clearName = mode == .ring ? "reset_dirty_rings" : "clear_dirty_log"
        let clears = mode == .ring || mode.usesManualProtect
        sample.add(DirtyLoggingScenario.metrics.populateTime, Double(populateNanos) / 1e9)
        sample.add(DirtyLoggingScenario.metrics.enableDirtyLoggingTime, Double(enableNanos) / 1e9)
        sample.add(DirtyLoggingScenario.metrics.iterationDirtyTime, sum(dirty) / n)
        sample.add(DirtyLoggingScenario.metrics.iterationDirtyTimeTotal, sum(dirty))
        sample.add(DirtyLoggingScenario.metrics.iterationGuestDirtyTime, sum(guestDirty) / n)
        if mode == .ring { sample.add(DirtyLoggingScenario.metrics.iterationRingFullTime, sum(ringFull) / n) }
        sample.add(DirtyLoggingScenario.metrics.operationTime(getName), sum(get) / n)
        sample.add(DirtyLoggingScenario.metrics.operationTimeTotal(getName), sum(get))
        if clears {
            sample.add(DirtyLoggingScenario.metrics.operationTime(clearName), sum(clear) / n)
            sample.add(DirtyLoggingScenario.metrics.operationTimeTotal(clearName), sum(clear))
        }
        sample.add(DirtyLoggingScenario.metrics.verifyTime, sum(verify) / n)
        sample.add(DirtyLoggingScenario.metrics.verifyTimeTotal, sum(verify))
        sample.add(DirtyLoggingScenario.metrics.dirtyPages, Double(harvestedCounts.reduce(0, +)) / n)
        sample.add(DirtyLoggingScenario.metrics.writtenPages, Double(writtenCounts.reduce(0, +)) / n)
        // KVM page faults of the dirty passes per page written: about 1 when every logged write
        // takes its write-protection fault.
        let dirtyFaults = (1...iterations).reduce(Int64(0)) { $0 + (phaseStats["iteration.\($1)"]?["pf_taken"] ?? 0) }
        if writtenCounts.reduce(0, +) > 0 {
            sample.add(DirtyLoggingScenario.metrics.faultsPerPage, Double(dirtyFaults) / Double(writtenCounts.reduce(0, +)))
        }
        // Per iteration; the names do not end in "_time", which reports reserve for phases.
        for pass in 1...iterations {
            let i = pass - 1
            sample.add(DirtyLoggingScenario.metrics.iterationDirtyMemory("\(pass)"), dirty[i])
            sample.add(DirtyLoggingScenario.metrics.iterationOperation("\(pass)", getName), get[i])
            if clears { sample.add(DirtyLoggingScenario.metrics.iterationOperation("\(pass)", clearName), clear[i]) }
            sample.add(DirtyLoggingScenario.metrics.iterationVerify("\(pass)"), verify[i])
            sample.add(DirtyLoggingScenario.metrics.iterationWrittenPages("\(pass)"), Double(writtenCounts[i]))
            sample.add(DirtyLoggingScenario.metrics.iterationDirtyPages("\(pass)"), Double(harvestedCounts[i]))
            if mode == .ring {
                sample.add(DirtyLoggingScenario.metrics.iterationRingFullExits("\(pass)"), Double(fullExits[i]))
            }
        }
        if let rings {
            let totals = rings.totals()
            sample.add(DirtyLoggingScenario.metrics.ringFullExits, Double(fullExits.reduce(0, +)))
            sample.add(DirtyLoggingScenario.metrics.ringFullHandlerEntries, Double(totals.handlerEntries))
            sample.add(DirtyLoggingScenario.metrics.ringFullHandlerTotal, Double(totals.handlerNanos) / 1e9)
        }
        sample.add(DirtyLoggingScenario.metrics.pages2MAfterPopulate, pages2M(at: "populate"))
        sample.add(DirtyLoggingScenario.metrics.pages2MAfterEnable, pages2M(at: "enable"))
        sample.add(DirtyLoggingScenario.metrics.pages2MAfterIterations, afterIterations)
        // disableAndRebuild added its figures before these; keep the phase order readable.
        sample.metrics.sort { Self.order($0.name) < Self.order($1.name) }

        sample.kvmStats = phaseStats["iteration.\(iterations)"] ?? [:]
        sample.kvmStatTypes = vm.statTypes
        sample.phaseStats = phaseStats
        sample.perVCPU = (0..<vcpus).map { index in
            var row: [String: Double] = ["iteration_dirty_time": sum(perVCPUDirty[index]) / n]
            for pass in 1...iterations { row["iteration.\(pass).dirty_memory"] = perVCPUDirty[index][pass - 1] }
            if let rings { row["ring_entries"] = Double(rings.vcpus[index].state.withLock { $0.entries }) }
            return row
        }
        addNotes()
        return sample
    }

    func addNotes() {
        if guest.vcpus > ProcessInfo.processInfo.activeProcessorCount {
            sample.notes.append("\(guest.vcpus) vCPUs on \(ProcessInfo.processInfo.activeProcessorCount) host CPUs: vCPUs time-share, expect up to 2x variation")
        }
    }

    /// Display order of the figures: phases first, in the order they run.
    static func order(_ name: String) -> Int {
        let prefixes = ["populate", "enable", "iteration_dirty", "get_dirty_log", "harvest", "clear_dirty_log",
                        "reset_dirty_rings", "disable", "rebuild", "dirty_rate", "verify", "dirty_pages", "written_pages", "faults_per_page",
                        "ring_", "concurrent", "pages_2m_after_populate", "pages_2m_after_enable", "pages_2m_after_iterations",
                        "pages_2m_after_disable", "pages_2m_after_rebuild", "iteration."]
        return prefixes.firstIndex { name.hasPrefix($0) } ?? prefixes.count
    }
}

/// KVM_GET_DIRTY_LOG set bits past the end of a slot: the bitmap is corrupt.
struct DirtyLogBitsPastSlotEnd: Error, CustomStringConvertible {
    var count: Int
    var pass: Int
    var description: String { "KVM_GET_DIRTY_LOG reported \(count) pages past the end of their slot after pass \(pass)" }
}

/// A dirty ring entry that names no page of the test memory.
struct DirtyRingOutsideTestMemory: Error, CustomStringConvertible {
    var slot: UInt32
    var offset: UInt64
    var count: Int
    var description: String {
        "dirty ring reported \(count) entries outside the test memory, first slot \(slot & 0xFFFF) (address space \(slot >> 16)), page offset \(offset)"
    }
}

/// KVM_RESET_DIRTY_RINGS failed in a vCPU's ring-full handler (which cannot throw).
struct DirtyRingResetFailed: Error, CustomStringConvertible {
    var errno: Int32
    var description: String { "KVM_RESET_DIRTY_RINGS(from the ring-full handler) failed: errno \(errno) (\(String(cString: strerror(errno))))" }
}
