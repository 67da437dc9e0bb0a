import Backings
import Foundation
import KVM
import Testing
import TestSupport
@testable import Harness
@testable import Scenarios

/// Limits generous enough that only the dirty-logging options are judged.
private let hostLimits = HostLimits(maxVCPUs: 1024, memslots: 32764, memAvailable: nil)
/// A host with every capability, and a ring of at most 65536 entries (1 MiB).
private let fullHost = DirtyLogLimits(ringMaxBytes: 65536 * 16, manualProtectFlags: 3)

private func scenario(_ values: [String: String], dirtyLimits: DirtyLogLimits = fullHost) throws(ParameterError) -> DirtyLoggingScenario {
    try DirtyLoggingScenario(parameters: ParameterSet(values), limits: hostLimits, dirtyLimits: dirtyLimits)
}

/// 2 vCPUs x 8 MiB, 4 KiB pages: 4096 pages in all.
private func smallGuest(_ extra: [String: String] = [:]) -> [String: String] {
    ["vcpus": "2", "mem_per_vcpu": "8M"].merging(extra) { _, new in new }
}

private func metric(_ sample: Sample, _ name: String) -> Double? { sample.metrics.first { $0.name == name }?.value }

@Suite("dirty-logging: the verification check")
struct DirtyLogVerificationTests {
    @Test func coveredSetsPassAndADroppedPageIsFound() throws {
        var written = [UInt64](repeating: 0, count: 4)
        written[0] = 0b1011
        written[2] = 1 << 63
        var harvested = written
        harvested[1] = 0xFF // extra pages reported are fine
        #expect(DirtyLogVerification.firstMissingPage(written: written, harvested: harvested) == nil)
        try DirtyLogVerification.check(written: written, harvested: harvested, testBase: 1 << 32, pass: 3, mode: .bitmap)

        harvested[2] = 0 // drop page 2 * 64 + 63 = 191
        #expect(DirtyLogVerification.firstMissingPage(written: written, harvested: harvested) == 191)
        let error = #expect(throws: DirtyLogMismatch.self) {
            try DirtyLogVerification.check(written: written, harvested: harvested, testBase: 1 << 32, pass: 3, mode: .ring)
        }
        #expect(error?.kind == .missed && error?.guestPhysicalAddress == (1 << 32) + 191 * 4096)
        #expect(error?.description.hasPrefix("dirty log missed page at GPA 0x1000bf000, written in pass 3") == true)
    }

    /// A scratch test memory of `pages` zeroed pages for the concurrent check.
    final class Memory {
        let pages: Int
        /// The memory as the check sees it (the view owns the mapping).
        let base: TestMemoryView
        init(pages: Int) throws {
            self.pages = pages
            base = TestMemoryView(owning: try HostMemory(kind: .anonymous4k, size: UInt64(pages) * 4096))
        }
        /// A vCPU's write: the pass's token at the page's start.
        func write(_ page: Int, token: UInt64) { base.store(token, page: page) }
        func bits(_ list: [Int]) -> [UInt64] {
            var out = [UInt64](repeating: 0, count: (pages + 63) / 64)
            for page in list { out[page >> 6] |= 1 << UInt64(page & 63) }
            return out
        }
    }

    /// --concurrent: KVM loses the re-dirty of a page it reported once already. The union of the
    /// harvests (the old check) still holds the page; the harvest that had to report it fails.
    @Test func aLostReDirtyFailsItsHarvestThoughTheUnionHoldsThePage() throws {
        let memory = try Memory(pages: 130)
        var check = ConcurrentHarvestCheck(memory: memory.base, pages: 130, testBase: 1 << 32, mode: .manual)
        memory.write(5, token: 1)
        memory.write(70, token: 1)
        check.beforeHarvest(memory: memory.base)
        try check.afterHarvest(memory.bits([5, 70]), memory: memory.base)
        memory.write(5, token: 2) // the next pass writes page 5 again, after harvest 1 re-protected it
        check.beforeHarvest(memory: memory.base)
        let error = #expect(throws: DirtyLogMismatch.self) { try check.afterHarvest(memory.bits([70]), memory: memory.base) }
        #expect(error?.kind == .missed && error?.harvest == 2 && error?.racedPreviousHarvest == false)
        #expect(error?.guestPhysicalAddress == (1 << 32) + 5 * 4096)
        #expect(error?.description == "dirty log missed page at GPA 0x100005000, written after concurrent harvest 1 and before harvest 2, which did not report it (dirty mode manual)")
        // What the union check saw: every written page reported at least once.
        try DirtyLogVerification.checkExact(expected: memory.bits([5, 70]), harvested: memory.bits([5, 70]), testBase: 1 << 32, pass: 0, mode: .manual)
    }

    /// A write that raced a harvest (between its two scans) may be reported by it or by the next
    /// one, never later; a write before a harvest began must be in that harvest.
    @Test func aWriteThatRacedAHarvestIsDueInItOrTheNext() throws {
        let memory = try Memory(pages: 64)
        var check = ConcurrentHarvestCheck(memory: memory.base, pages: 64, testBase: 0, mode: .ring)
        check.beforeHarvest(memory: memory.base)
        memory.write(9, token: 1) // while harvest 1 runs
        try check.afterHarvest(memory.bits([]), memory: memory.base)
        check.beforeHarvest(memory: memory.base)
        try check.afterHarvest(memory.bits([9]), memory: memory.base) // harvest 2 reports it: fine
        check.beforeHarvest(memory: memory.base)
        memory.write(9, token: 2) // raced harvest 3 ...
        try check.afterHarvest(memory.bits([]), memory: memory.base)
        check.beforeHarvest(memory: memory.base)
        let late = #expect(throws: DirtyLogMismatch.self) { try check.afterHarvest(memory.bits([]), memory: memory.base) } // ... and harvest 4 lacks it
        #expect(late?.harvest == 4 && late?.racedPreviousHarvest == true && late?.guestPhysicalAddress == 9 * 4096)
    }

    /// Every page of a correct run of harvests, dropped from the harvest that had to report it, fails.
    @Test func aHarvestWithAnyOnePageRemovedFails() throws {
        let pages = 100
        // Three harvests; pass p writes these pages before harvest p.
        let writes = [[0, 1, 63, 64], [1, 2, 64, 99], [0, 99]]
        func run(dropping drop: (harvest: Int, page: Int)?) throws {
            let memory = try Memory(pages: pages)
            var check = ConcurrentHarvestCheck(memory: memory.base, pages: pages, testBase: 0, mode: .bitmap)
            for (index, pass) in writes.enumerated() {
                for page in pass { memory.write(page, token: UInt64(index + 1)) }
                check.beforeHarvest(memory: memory.base)
                var harvest = memory.bits(pass)
                if let drop, drop.harvest == index { harvest[drop.page >> 6] &= ~(1 << UInt64(drop.page & 63)) }
                try check.afterHarvest(harvest, memory: memory.base)
            }
            try check.finish()
        }
        try run(dropping: nil)
        for (index, pass) in writes.enumerated() {
            for page in pass {
                let error = #expect(throws: DirtyLogMismatch.self) { try run(dropping: (index, page)) }
                #expect(error?.harvest == index + 1 && error?.guestPhysicalAddress == UInt64(page) * 4096)
            }
        }
    }

    @Test func scanFindsOnlyPagesHoldingTheToken() throws {
        let pages = 130
        let memory = TestMemoryView(owning: try HostMemory(kind: .anonymous4k, size: UInt64(pages) * 4096))
        for page in [0, 64, 129] { memory.store(7, page: page) }
        memory.store(6, page: 5) // an older pass
        memory.store(7, page: 6, offset: 8) // not the first 8 bytes
        var written = [UInt64](repeating: .max, count: 3)
        #expect(DirtyLogVerification.scanWritten(memory: memory, pages: pages, token: 7, into: &written) == 3)
        #expect(written == [1, 1, 2])
    }
}

@Suite("dirty-logging: bad input")
struct DirtyLoggingParameterTests {
    @Test func ringSizeMustBeAPowerOfTwo() {
        let error = #expect(throws: ParameterError.self) { try scenario(["dirty_mode": "ring", "ring_size": "1000"]) }
        #expect(error?.message.hasPrefix("--ring-size 1000 is not a power of two") == true)
        #expect(error?.message.contains("65536 entries") == true)
    }

    @Test func ringSizeAboveTheHostMaximumIsRefused() {
        let small = DirtyLogLimits(ringMaxBytes: 4096 * 16, manualProtectFlags: 3)
        let error = #expect(throws: ParameterError.self) { try scenario(["dirty_mode": "ring", "ring_size": "8192"], dirtyLimits: small) }
        #expect(error?.message.hasPrefix("--ring-size 8192 is above this host's maximum") == true)
        #expect(error?.message.contains("65536 bytes = 4096 entries") == true)
        #expect((try? scenario(["dirty_mode": "ring", "ring_size": "4096"], dirtyLimits: small)) != nil)
    }

    @Test func ringsBelowTheReserveAreRefused() {
        // One 4 KiB page of 16-byte entries is the least KVM takes.
        let error = #expect(throws: ParameterError.self) { try scenario(["dirty_mode": "ring", "ring_size": "128"]) }
        #expect(error?.message.hasPrefix("--ring-size 128 is too small") == true)
        #expect(error?.message.contains("from 256 to 65536 entries") == true)
    }

    @Test func oneIterationIsNotEnough() {
        let error = #expect(throws: ParameterError.self) { try scenario(["iterations": "1"]) }
        #expect(error?.message.hasPrefix("--iterations 1 is out of range: allowed 2...") == true)
    }

    @Test func ringModeWithoutTheCapabilityIsRefused() {
        let noRing = DirtyLogLimits(ringMaxBytes: 0, manualProtectFlags: 3)
        let error = #expect(throws: ParameterError.self) { try scenario(["dirty_mode": "ring"], dirtyLimits: noRing) }
        #expect(error?.message.hasPrefix("--dirty-mode ring needs KVM_CAP_DIRTY_LOG_RING") == true)
        // The pure validation says the same for options built in code.
        #expect(DirtyLoggingOptions(mode: .ring).problem(limits: noRing) == error?.message)
        #expect(DirtyLoggingOptions(mode: .bitmap).problem(limits: noRing) == nil)
    }

    @Test func manualModesNeedTheirFlags() {
        let onlyManual = DirtyLogLimits(ringMaxBytes: 0, manualProtectFlags: 1)
        #expect(DirtyLoggingOptions(mode: .manual).problem(limits: onlyManual) == nil)
        let message = DirtyLoggingOptions(mode: .manualInitiallySet).problem(limits: onlyManual)
        #expect(message?.hasPrefix("--dirty-mode manual-initially-set needs KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2") == true)
    }

    @Test func unknownModeAndDurationAreRefused() {
        let mode = #expect(throws: ParameterError.self) { try scenario(["dirty_mode": "pml"]) }
        #expect(mode?.message.contains("valid: bitmap, manual, manual-initially-set, ring") == true)
        let duration = #expect(throws: ParameterError.self) { try scenario(["concurrent": "true", "duration": "0"]) }
        #expect(duration?.message.hasPrefix("--duration 0.0 is out of range") == true)
    }

    @Test func recordedParametersRepeatTheCase() throws {
        let ring = try scenario(smallGuest(["dirty_mode": "ring", "ring_size": "256", "iterations": "3"]))
        #expect(ring.parameters["dirty_mode"] == "ring")
        #expect(ring.parameters["ring_size"] == "256")
        #expect(ring.parameters["iterations"] == "3")
        #expect(ring.parameters["vcpus"] == "2")
        let again = try scenario(ring.parameters)
        #expect(again.options == ring.options && again.guest == ring.guest)
    }
}

@Suite("dirty-logging on /dev/kvm", .serialized, .enabled(if: KVMSystem.isUsable(), "needs /dev/kvm"))
struct DirtyLoggingKVMTests {
    @Test(arguments: DirtyLogMode.allCases)
    func everyModeRunsAndItsHarvestsCoverEveryWrite(mode: DirtyLogMode) throws {
        let limits = DirtyLogLimits(TestHost.session.limits)
        if let problem = DirtyLoggingOptions(mode: mode).problem(limits: limits) { try Test.cancel("\(problem): skipped") }
        let sample = try scenario(smallGuest(["dirty_mode": mode.rawValue, "iterations": "3"]), dirtyLimits: limits).measure(in: TestHost.context())
        // Every pass writes all 4096 pages; KVM must have reported at least those.
        for pass in 1...3 {
            #expect(metric(sample, "iteration.\(pass).written_pages") == 4096)
            #expect((metric(sample, "iteration.\(pass).dirty_pages") ?? 0) >= 4096)
        }
        let collect = mode == .ring ? "harvest_time" : "get_dirty_log_time"
        #expect((metric(sample, collect) ?? 0) > 0)
        #expect((metric(sample, "clear_dirty_log_time") != nil) == mode.usesManualProtect)
        #expect((metric(sample, "enable_dirty_logging_time") ?? 0) > 0)
        #expect((metric(sample, "disable_dirty_logging_time") ?? 0) > 0)
        // Every logged write takes its write-protection fault (shadow paging prefetches no writable PTEs then).
        // (Under manual-initially-set nothing is write-protected before the first clear: pass 1 takes none.)
        #expect((metric(sample, "faults_per_page") ?? 0) >= (mode == .manualInitiallySet ? 0.6 : 0.9))
        #expect(sample.phaseStats?["iteration.3"] != nil && sample.phaseStats?["at.rebuild"]?["pages_4k"] != nil)
    }

    @Test func aTinyRingTakesRingFullExitsAndStillCoversEveryWrite() throws {
        let limits = DirtyLogLimits(TestHost.session.limits)
        guard limits.ringMinEntries <= 256 && limits.ringMaxEntries >= 256 else {
            try Test.cancel("this host's dirty ring takes \(limits.ringMinEntries)...\(limits.ringMaxEntries) entries, not 256: skipped")
        }
        let sample = try scenario(smallGuest(["dirty_mode": "ring", "ring_size": "256"]), dirtyLimits: limits).measure(in: TestHost.context())
        // 2048 pages per vCPU per pass and a soft limit of 256 - 64 entries: about 10 exits per vCPU per pass.
        #expect((metric(sample, "ring_full_exits") ?? 0) >= 2 * 2 * 8)
        #expect((metric(sample, "ring_full_handler_entries") ?? 0) > 0)
        #expect(metric(sample, "iteration.2.written_pages") == 4096)
    }

    @Test(arguments: DirtyLogMode.allCases, [false, true])
    func aDroppedHarvestedPageFailsTheCase(mode: DirtyLogMode, concurrent: Bool) throws {
        let limits = DirtyLogLimits(TestHost.session.limits)
        if let problem = DirtyLoggingOptions(mode: mode).problem(limits: limits) { try Test.cancel("\(problem): skipped") }
        var corrupted = try scenario(smallGuest(["dirty_mode": mode.rawValue, "concurrent": "\(concurrent)", "duration": "0.2"]),
                                     dirtyLimits: limits)
        corrupted.dropOneHarvestedPage = true
        let error = #expect(throws: DirtyLogMismatch.self) { _ = try corrupted.measure(in: TestHost.context()) }
        #expect(error?.kind == .missed)
        if concurrent {
            // One harvest lost a page it had to report: the harvest-by-harvest check names that harvest.
            #expect(error?.pass == 0 && (error?.harvest ?? 0) >= 1)
            // (The page dropped may be one that raced the previous harvest: then neither reported it.)
            #expect(error?.description.contains("harvest \(error?.harvest ?? 0)") == true, "\(error?.description ?? "")")
        } else {
            // The first page of the test memory (4 GiB) is the one dropped.
            #expect(error?.description.hasPrefix("dirty log missed page at GPA 0x100000000, written in pass 1") == true)
        }
    }

    /// A harvest must be exactly the pages written since the previous clear: one page too many
    /// fails too (a check that only looked for missing pages passed any superset, such as the
    /// all-ones first harvest of manual-initially-set).
    @Test(arguments: DirtyLogMode.allCases)
    func anAddedHarvestedPageFailsTheCase(mode: DirtyLogMode) throws {
        let limits = DirtyLogLimits(TestHost.session.limits)
        if let problem = DirtyLoggingOptions(mode: mode).problem(limits: limits) { try Test.cancel("\(problem): skipped") }
        let values = smallGuest(["dirty_mode": mode.rawValue, "access": "random", "write_percent": "50", "iterations": "2"])
        _ = try scenario(values, dirtyLimits: limits).measure(in: TestHost.context()) // the exact check passes on KVM's own harvests
        var corrupted = try scenario(values, dirtyLimits: limits)
        corrupted.addOneHarvestedPage = true
        let error = #expect(throws: DirtyLogMismatch.self) { _ = try corrupted.measure(in: TestHost.context()) }
        #expect(error?.kind == .extra && error?.pass == 2)
    }

    @Test func theExactCheckFindsMissingAndExtraPages() throws {
        let expected = DirtyLogVerification.allPages(100, words: 2)
        #expect(expected == [.max, (1 << 36) - 1])
        try DirtyLogVerification.checkExact(expected: expected, harvested: expected, testBase: 0, pass: 1, mode: .manualInitiallySet)
        var more = expected
        more[1] |= 1 << 40
        let extra = #expect(throws: DirtyLogMismatch.self) {
            try DirtyLogVerification.checkExact(expected: expected, harvested: more, testBase: 0, pass: 1, mode: .manualInitiallySet)
        }
        #expect(extra?.kind == .extra && extra?.guestPhysicalAddress == 104 * 4096)
        var fewer = expected
        fewer[0] &= ~1
        let missed = #expect(throws: DirtyLogMismatch.self) {
            try DirtyLogVerification.checkExact(expected: expected, harvested: fewer, testBase: 0, pass: 1, mode: .manual)
        }
        #expect(missed?.kind == .missed && missed?.guestPhysicalAddress == 0)
    }

    @Test func randomPartialWritesAcrossSlotsWithVCPUsRunningOnDisable() throws {
        let limits = DirtyLogLimits(TestHost.session.limits)
        let modes = [DirtyLogMode.manual, .ring].filter { DirtyLoggingOptions(mode: $0).problem(limits: limits) == nil }
        if modes.isEmpty { try Test.cancel("this host offers neither manual protect nor the dirty ring: skipped") }
        for mode in modes {
            let sample = try scenario(smallGuest(["dirty_mode": mode.rawValue, "slots": "3", "access": "random",
                                                  "write_percent": "50", "keep_running_on_disable": "true",
                                                  "ring_size": "512"]), dirtyLimits: limits).measure(in: TestHost.context())
            let written = metric(sample, "iteration.2.written_pages") ?? 0
            #expect(written > 0 && written < 4096)
        }
    }

    @Test(arguments: DirtyLogMode.allCases)
    func concurrentHarvestingReportsRatesAndCoversTheRun(mode: DirtyLogMode) throws {
        let limits = DirtyLogLimits(TestHost.session.limits)
        if let problem = DirtyLoggingOptions(mode: mode).problem(limits: limits) { try Test.cancel("\(problem): skipped") }
        let sample = try scenario(smallGuest(["dirty_mode": mode.rawValue, "concurrent": "true", "duration": "0.3"]),
                                  dirtyLimits: limits).measure(in: TestHost.context())
        #expect((metric(sample, "dirty_rate") ?? 0) > 0)
        #expect((metric(sample, "harvest_iterations_rate") ?? 0) > 0)
        #expect((metric(sample, "written_pages") ?? 0) > 0)
    }
}
