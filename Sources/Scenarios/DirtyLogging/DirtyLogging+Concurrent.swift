import Harness
import Foundation
import KVM

extension DirtyLogSession {
    /// The token base the phases after the concurrent run count from (never a pass number).
    static let concurrentToken: UInt64 = 0xC0_C0C0
    /// Every concurrent pass writes `concurrentTag | vCPU << 32 | pass` (see `ConcurrentHarvestCheck`);
    /// `concurrentTagMask` selects the tag.
    static let concurrentTag: UInt64 = 0xC0C0 << 48
    static let concurrentTagMask: UInt64 = 0xFFFF << 48

    /// Concurrent harvesting (`--concurrent`), as a live-migration thread does it: the vCPUs keep
    /// writing their memory pass after pass while the host collects dirty pages in a loop for
    /// `duration` seconds (KVM_GET_DIRTY_LOG [+ KVM_CLEAR_DIRTY_LOG] on every slot, or harvesting
    /// every vCPU's ring + KVM_RESET_DIRTY_RINGS). Reports the dirty rate the guest sustains and the
    /// harvest throughput.
    ///
    /// Each harvest is checked on its own (`ConcurrentHarvestCheck`): the pages written since the
    /// previous harvest re-protected them must be in it, or, for writes that raced the previous
    /// harvest, in that one or this one. The two scans of the test memory around each harvest are
    /// outside the timed ioctls, and their time is left out of the harvest rates (it is in
    /// verify_time). Also checked: every page KVM reported lies in the test memory (ring entries
    /// name a test slot and an offset inside it; bitmaps have no bits past a slot's end), and after
    /// the vCPUs stop and a last harvest, the union of the harvests is exactly the pages written
    /// during the run (those that hold a concurrent pass's token).
    func measureConcurrent() throws -> Sample {
        let mode = options.mode
        var reading = vm.readStats()
        let populateNanos = try populate()
        reading = endPhase("populate", from: reading)
        let enableNanos = try setLogging(true)
        reading = endPhase("enable", from: reading)
        if mode == .manualInitiallySet, let slotBitmaps {
            // Before the first clear KVM reports every page (initially set): check that it does,
            // and keep that harvest out of the evidence for the run (it proves no write).
            for index in harvested.indices { harvested[index] = 0 }
            _ = try slotBitmaps.getAll(vm)
            _ = try slotBitmaps.clearAll(vm)
            var outside = 0
            _ = slotBitmaps.merge(into: &harvested, outside: &outside)
            try DirtyLogVerification.checkExact(expected: DirtyLogVerification.allPages(pages, words: words), harvested: harvested,
                                                testBase: testBase, pass: 0, mode: mode)
        }

        for index in harvested.indices { harvested[index] = 0 }
        var loops = 0, loopPages = 0, outside = 0
        var getNanos: UInt64 = 0, clearNanos: UInt64 = 0, checkNanos: UInt64 = 0
        var harvest = [UInt64](repeating: 0, count: words)
        let memory = vm.testMemoryView
        var check = ConcurrentHarvestCheck(memory: memory, pages: pages, testBase: testBase, mode: mode)
        var dropPending = dropOneHarvestedPage
        /// One harvest and its check; the scans' time goes to `checkNanos`.
        func harvestAndCheck() throws -> Int {
            var started = MonotonicClock.now()
            check.beforeHarvest(memory: memory)
            checkNanos &+= MonotonicClock.now() &- started
            let count = try harvestOnce(into: &harvest, get: &getNanos, clear: &clearNanos, outside: &outside)
            started = MonotonicClock.now()
            if dropPending, let page = check.firstDuePage(in: harvest) {
                harvest[page >> 6] &= ~(1 << UInt64(page & 63)) // a harvest that lost one page it had to report
                dropPending = false
            }
            for word in 0..<words { harvested[word] |= harvest[word] }
            try check.afterHarvest(harvest, memory: memory)
            checkNanos &+= MonotonicClock.now() &- started
            return count
        }
        let fullBefore = vm.dirtyRingFullExits
        let handlerBefore = rings?.totals().handlerEntries ?? 0
        let durationNanos = UInt64(options.duration * 1e9)
        vm.setToken(Self.concurrentToken)

        vm.startContinuous(passTokenTag: Self.concurrentTag)
        let started = MonotonicClock.now()
        let deadline = started &+ durationNanos
        let loopEnded: UInt64
        do {
            // At least one harvest, and at least one whole pass of the guest before the vCPUs stop:
            // on a busy host a vCPU thread may not have run at all by the deadline.
            repeat {
                loopPages += try harvestAndCheck()
                loops += 1
            } while MonotonicClock.now() < deadline
            loopEnded = MonotonicClock.now()
            try MemslotLoops.waitUntilRunning(vm)
        } catch {
            try? vm.stop()
            throw error
        }
        try vm.stop()
        let stopped = MonotonicClock.now()
        let passes = vm.continuousPasses
        let fullExits = vm.dirtyRingFullExits - fullBefore
        // One last harvest with the vCPUs parked: every write of the run is then due in it or before.
        let loopGet = getNanos, loopClear = clearNanos, loopCheck = checkNanos
        _ = try harvestAndCheck()
        getNanos = loopGet
        clearNanos = loopClear
        try check.finish()
        reading = endPhase("concurrent", from: reading)

        let verifyStarted = MonotonicClock.now()
        if outside > 0 { throw DirtyLogBitsPastSlotEnd(count: outside, pass: 0) }
        try checkRingHealth()
        let writtenCount = DirtyLogVerification.scanWritten(memory: memory, pages: pages, token: Self.concurrentTag,
                                                           mask: Self.concurrentTagMask, into: &written)
        if addOneHarvestedPage, let page = DirtyLogVerification.firstMissingPage(written: written.map { ~$0 }, harvested: [UInt64](repeating: 0, count: words)), page < pages {
            harvested[page >> 6] |= 1 << UInt64(page & 63)
        }
        // "Pass 0" in a failure message means the concurrent run. Every page written during the
        // run was reported, and every page reported was written during the run (holds its token).
        try DirtyLogVerification.checkExact(expected: written, harvested: harvested, testBase: testBase, pass: 0, mode: mode)
        let verifyNanos = (MonotonicClock.now() &- verifyStarted) &+ checkNanos

        try disableAndRebuild(lastToken: Self.concurrentToken, from: reading)

        // The harvest loop's own time: without the check's scans, as a harvester that checks nothing runs.
        let loopSeconds = Double(loopEnded &- started &- loopCheck) / 1e9
        let runSeconds = Double(stopped &- started) / 1e9
        let writesPerPass = Double(guest.pagesPerVCPU) * Double(guest.writePercent) / 100
        let perLoop = Double(max(loops, 1))
        sample.add(DirtyLoggingScenario.metrics.populateTime, Double(populateNanos) / 1e9)
        sample.add(DirtyLoggingScenario.metrics.enableDirtyLoggingTime, Double(enableNanos) / 1e9)
        sample.add(DirtyLoggingScenario.metrics.dirtyRate, Double(passes) * writesPerPass / runSeconds)
        sample.add(DirtyLoggingScenario.metrics.harvestRate, Double(loopPages) / loopSeconds)
        sample.add(DirtyLoggingScenario.metrics.harvestIterationsRate, Double(loops) / loopSeconds)
        let getName = mode == .ring ? "harvest" : "get_dirty_log"
        let clearName = mode == .ring ? "reset_dirty_rings" : "clear_dirty_log"
        sample.add(DirtyLoggingScenario.metrics.operationTime(getName), Double(getNanos) / 1e9 / perLoop)
        if mode == .ring || mode.usesManualProtect {
            sample.add(DirtyLoggingScenario.metrics.operationTime(clearName), Double(clearNanos) / 1e9 / perLoop)
        }
        sample.add(DirtyLoggingScenario.metrics.verifyTime, Double(verifyNanos) / 1e9)
        sample.add(DirtyLoggingScenario.metrics.concurrentSeconds, runSeconds)
        sample.add(DirtyLoggingScenario.metrics.concurrentPasses, Double(passes))
        sample.add(DirtyLoggingScenario.metrics.concurrentHarvestIterations, Double(loops))
        sample.add(DirtyLoggingScenario.metrics.concurrentPagesHarvested, Double(loopPages))
        sample.add(DirtyLoggingScenario.metrics.writtenPages, Double(writtenCount))
        if let rings {
            sample.add(DirtyLoggingScenario.metrics.ringFullExits, Double(fullExits))
            sample.add(DirtyLoggingScenario.metrics.ringFullHandlerEntries, Double(rings.totals().handlerEntries - handlerBefore))
        }
        sample.add(DirtyLoggingScenario.metrics.pages2MAfterPopulate, pages2M(at: "populate"))
        sample.add(DirtyLoggingScenario.metrics.pages2MAfterEnable, pages2M(at: "enable"))
        sample.add(DirtyLoggingScenario.metrics.pages2MAfterIterations, pages2M(at: "concurrent"))
        sample.metrics.sort { Self.order($0.name) < Self.order($1.name) }
        sample.kvmStats = phaseStats["concurrent"] ?? [:]
        sample.kvmStatTypes = vm.statTypes
        sample.phaseStats = phaseStats
        sample.notes.append("concurrent: checked every harvest against the pages written since the previous one re-protected them (writes that raced a harvest: in it or the next), that every reported page lies in the test memory, and that the pages reported during the run are exactly the pages written during it\(mode == .manualInitiallySet ? ", and that the first harvest (before any clear) reported every page" : "")")
        addNotes()
        return sample
    }

    /// One round of the harvest loop; returns the pages (bitmap bits or ring entries) it collected.
    /// `harvest` becomes exactly this round's pages: the slot bitmaps, or every vCPU ring's
    /// entries since the previous round (the loop's and the ring-full handlers'), drained after
    /// the reset.
    private func harvestOnce(into harvest: inout [UInt64], get: inout UInt64, clear: inout UInt64, outside: inout Int) throws -> Int {
        for word in harvest.indices { harvest[word] = 0 }
        if let slotBitmaps {
            get &+= try slotBitmaps.getAll(vm)
            if options.mode.usesManualProtect { clear &+= try slotBitmaps.clearAll(vm) }
            return slotBitmaps.merge(into: &harvest, outside: &outside)
        }
        guard let rings else { return 0 }
        var entries = 0
        for state in rings.vcpus {
            let result = state.harvest(map: rings.map)
            entries += result.entries
            get &+= result.nanos
        }
        let started = MonotonicClock.now()
        try vm.resetDirtyRings()
        clear &+= MonotonicClock.now() &- started
        for state in rings.vcpus { state.drain(into: &harvest) }
        return entries
    }
}
