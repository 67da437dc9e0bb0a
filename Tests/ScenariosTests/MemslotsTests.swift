import Backings
import Glibc
import GuestPrograms
import KVM
import Results
import Pipeline
@testable import Harness
@testable import Scenarios
import Testing
import TestSupport

private let hostLimits = HostLimits(maxVCPUs: 1024, memslots: 32764, memAvailable: nil)

private func memslots(_ values: [String: String], limits: HostLimits = hostLimits) throws(ParameterError) -> MemslotsScenario {
    try MemslotsScenario(parameters: ParameterSet(values), limits: limits)
}

private func metric(_ sample: Sample, _ name: String) -> Double? { sample.metrics.first { $0.name == name }?.value }

@Suite("memslots parameters and host-side checks")
struct MemslotsParameterTests {
    @Test func slotsAboveTheHostMaximumRunAtTheMaximumWithANotice() throws {
        let scenario = try memslots(["slots": "32768"])
        #expect(scenario.slotsEffective == 32763)
        #expect(scenario.parameters["slots_requested"] == "32768")
        #expect(scenario.parameters["slots_effective"] == "32763")
        #expect(scenario.notices.count == 1)
        #expect(scenario.notices.first?.contains("32763") == true)
        #expect(scenario.notices.first?.contains("KVM_CAP_NR_MEMSLOTS 32764") == true)
        // At the maximum nothing needs saying.
        #expect(try memslots(["slots": "32763"]).notices.isEmpty)
        // The default is the host maximum, like the selftest's "no cap"; "max" says so explicitly.
        #expect(try memslots([:]).slotsEffective == 32763)
        let max = try memslots(["slots": "max"])
        #expect(max.slotsEffective == 32763 && max.parameters["slots_requested"] == "max" && max.notices.isEmpty)
    }

    @Test func zeroOrNegativeSlotsAreRefusedNamingTheFlagAndTheLimit() {
        for value in ["0", "-3"] {
            #expect {
                _ = try memslots(["slots": value])
            } throws: { error in
                let message = (error as? ParameterError)?.message ?? ""
                return message.contains("--slots") && message.contains("32763")
            }
        }
    }

    @Test func moreSlotsThanPagesIsRefused() {
        #expect(throws: ParameterError.self) { _ = try memslots(["slots": "100", "mem_per_vcpu": "256K"]) }
        #expect((try? memslots(["slots": "64", "mem_per_vcpu": "256K"])) != nil)
    }

    @Test func durationsAndTestListsParse() throws {
        #expect(try MemslotsParameters.duration.parse("2s") == 2_000_000_000)
        #expect(try MemslotsParameters.duration.parse("500ms") == 500_000_000)
        #expect(try MemslotsParameters.duration.parse("1.5") == 1_500_000_000)
        #expect(throws: ParameterError.self) { _ = try MemslotsParameters.duration.parse("soon") }
        #expect(throws: ParameterError.self) { _ = try MemslotsParameters.duration.parse("0s") }
        #expect(formatDuration(500_000_000) == "500ms")
        let scenario = try memslots(["tests": "rw, map", "duration": "250ms"])
        #expect(scenario.tests == [.map, .rw])
        #expect(scenario.parameters["duration"] == "250ms")
        #expect(throws: ParameterError.self) { _ = try memslots(["tests": "map,bogus"]) }
        #expect(throws: ParameterError.self) { _ = try memslots(["access": "random"]) }
        #expect(throws: ParameterError.self) { _ = try memslots(["backing": "thp"]) }
    }

    @Test func testsThatCannotRunAtTheSlotCountSayWhy() throws {
        let max = try memslots(["slots": "32763"])
        // map's 32 MiB area has 8192 pages: not enough for 32763 slots.
        #expect(max.notRunReason(.map)?.contains("8192") == true)
        #expect(max.notRunReason(.unmap) == nil)
        #expect(max.notRunReason(.unmap2m) == nil)
        // 512 MiB over 32763 slots: 4 pages each, the last 24 = half of the 48-page move area.
        #expect(max.notRunReason(.moveActive) == nil)
        #expect(max.notRunReason(.moveInactive) == nil)
        #expect(max.notRunReason(.rw) == nil)
        #expect(try memslots(["slots": "8192"]).notRunReason(.map) == nil)
        #expect(try memslots(["slots": "1"]).notRunReason(.moveActive) != nil)
        // 8192 slots split 512 MiB evenly (16 pages, no remainder): move-active writes 32 pages, half in the last slot.
        #expect(try memslots(["slots": "8192"]).notRunReason(.moveActive) == nil)
        #expect(MemslotLoops.moveActivePages(slots: 8192, pages: 131072) == 32)
        #expect(MemslotLoops.moveActivePages(slots: 32763, pages: 131072) == 48)
    }

    /// Three slots whose host memory is laid out in reverse order: a translation that ignored the
    /// slots (base + offset) would land in the wrong place.
    func scrambledSlots(_ memory: borrowing HostMemory) -> [Memslot] {
        let base: UInt64 = 1 << 32
        let pages: [UInt64] = [3, 3, 4] // the last takes the remainder, as GuestVM splits 10 pages
        var hostOffset: UInt64 = 10 * 4096
        var gpa = base
        var slots: [Memslot] = []
        for (index, count) in pages.enumerated() {
            hostOffset -= count * 4096
            slots.append(Memslot(id: UInt32(index + 1), guestPhysicalAddress: gpa, size: count * 4096,
                                 hostAddress: memory.address + UInt(hostOffset)))
            gpa += count * 4096
        }
        return slots
    }

    @Test func slotMapTranslatesThroughEachSlotsOwnHostAddress() throws {
        let memory = try HostMemory(kind: .anonymous4k, size: 10 * 4096)
        let map = MemslotMap(slots: scrambledSlots(memory))
        #expect(map.pageCount == 10 && map.pagesPerSlot == 3 && map.slotCount == 3)
        #expect(map.slotIndex(page: 9) == 2 && map.pagesToSlotEnd(page: 6) == 4 && map.pagesToSlotEnd(page: 4) == 2)
        // Guest page 0 is in the first slot, whose memory is the last 3 host pages.
        #expect(map.hostAddress(page: 0) == memory.address + 7 * 4096)
        #expect(map.hostAddress(page: 6) == memory.address)
        let view = TestMemoryView(owning: memory)
        MemslotAccess.fill(map, in: view, pages: 0..<10, offset: 8, value: 0xABCD)
        #expect(view.load(page: 0, offset: 8) == 0xABCD)
    }

    @Test func rwVerificationFailsOnOneCorruptedWord() throws {
        let memory = try HostMemory(kind: .anonymous4k, size: 10 * 4096)
        let map = MemslotMap(slots: scrambledSlots(memory))
        let view = TestMemoryView(owning: memory)
        MemslotAccess.fill(map, in: view, pages: 0..<10, offset: 0, value: MemslotAccess.guestValue)
        #expect(MemslotAccess.firstMismatch(map, in: view, pages: 0..<10, offset: 0, expected: MemslotAccess.guestValue, clear: false) == nil)
        // Corrupt the word of guest page 5 (slot 2, host page 5 - 3 + 4 = 5... via the map).
        view.store(0xDEAD, atHostAddress: map.hostAddress(page: 5))
        let bad = try #require(MemslotAccess.firstMismatch(map, in: view, pages: 0..<10, offset: 0, expected: MemslotAccess.guestValue, clear: true))
        #expect(bad.page == 5 && bad.found == 0xDEAD)
        // Clearing zeroed the words that matched before the mismatch, so a rerun fails at page 0.
        #expect(MemslotAccess.firstMismatch(map, in: view, pages: 0..<10, offset: 0, expected: MemslotAccess.guestValue, clear: false)?.page == 0)
    }

    @Test func discardDropsExactlyTheRequestedPagesAcrossSlots() throws {
        let memory = try HostMemory(kind: .anonymous4k, size: 10 * 4096)
        let map = MemslotMap(slots: scrambledSlots(memory))
        let view = TestMemoryView(owning: memory)
        MemslotAccess.fill(map, in: view, pages: 0..<10, offset: 0, value: 7)
        #expect(MemslotAccess.discard(map, pages: 2..<8, chunk: 1) == 0)
        for page in 0..<10 {
            let value = view.load(atHostAddress: map.hostAddress(page: page))
            #expect(value == ((2..<8).contains(page) ? 0 : 7), "page \(page)")
        }
        MemslotAccess.fill(map, in: view, pages: 0..<10, offset: 0, value: 7)
        #expect(MemslotAccess.discard(map, pages: 0..<10, chunk: 512) == 0)
        #expect(MemslotAccess.firstMismatch(map, in: view, pages: 0..<10, offset: 0, expected: 0, clear: false) == nil)
    }
}

@Suite("memslots on a real guest", .enabled(if: KVMSystem.isUsable(), "needs /dev/kvm (readable and writable): skipped"))
struct MemslotsKVMTests {
    func run(_ test: MemslotTest, slots: Int = 10, vcpus: Int = 1, memory: String = "16M", extra: [String: String] = [:]) throws -> Sample {
        var values = ["tests": test.rawValue, "slots": "\(slots)", "vcpus": "\(vcpus)", "mem_per_vcpu": memory, "duration": "150ms"]
        values.merge(extra) { $1 }
        return try memslots(values).measure(in: TestHost.context())
    }

    func expectTimed(_ sample: Sample, _ test: MemslotTest) throws {
        let fastest = try #require(metric(sample, "\(test.rawValue).fastest_iteration"))
        let average = try #require(metric(sample, "\(test.rawValue).average"))
        let iterations = try #require(metric(sample, "\(test.rawValue).iterations"))
        #expect(fastest > 0 && fastest <= average)
        // `.best` is the case's best repetition's average (memslot_perf_test's "best"), derived over repetitions.
        #expect(sample.bestOfRepetitions["\(test.rawValue).best"] == "\(test.rawValue).average")
        #expect(metric(sample, "\(test.rawValue).best") == nil)
        #expect(iterations >= 1)
        #expect((metric(sample, "slot_setup_time") ?? 0) > 0)
    }

    @Test func mapFaultsTheAreaBackInEveryIteration() throws {
        let sample = try run(.map, slots: 10, vcpus: 2)
        try expectTimed(sample, .map)
        let stats = try #require(sample.phaseStats?["map"])
        let iterations = Int64(metric(sample, "map.iterations") ?? 0)
        // Each iteration maps the whole 16 MiB (4096 pages) again after the host dropped it.
        #expect((stats["pf_taken"] ?? 0) >= iterations * 4096 * 9 / 10)
    }

    @Test func unmapAndUnmap2mInvalidateThroughTheMMUNotifier() throws {
        for test in [MemslotTest.unmap, .unmap2m] {
            let sample = try run(test, slots: 7)
            try expectTimed(sample, test)
            // The guest keeps re-faulting the page the host dropped.
            #expect((sample.phaseStats?[test.rawValue]?["pf_taken"] ?? 0) >= Int64(metric(sample, "\(test.rawValue).iterations") ?? 0))
        }
    }

    @Test func moveActiveTakesMMIOExitsAndRecordsTheMoveMethod() throws {
        let sample = try run(.moveActive, slots: 4)
        try expectTimed(sample, .moveActive)
        let method = try #require(sample.extraParameters["move_method"])
        #expect(method == "in-place" || method == "delete-create")
        if method == "delete-create" {
            #expect(sample.notes.contains("host refuses in-place KVM_MR_MOVE (EINVAL); measured delete + create"))
        }
        // How often the guest wrote the hole while the moves were timed depends on scheduling (0 is
        // possible); with the slot held away for a whole lap every one of its 24 pages there exits.
        #expect(metric(sample, "move-active.mmio_exits") != nil)
        #expect((metric(sample, "move-active.held_away_mmio_exits") ?? 0) >= Double(Self.holePages))
        #expect(metric(sample, "move-active.ioctls_per_iteration") == (method == "in-place" ? 2 : 4))
    }

    /// move-active with 4 slots of 16 MiB: 48 pages written, 24 of them in the moved slot.
    static let holePages = MemslotLoops.moveActivePages(slots: 4, pages: 4096) / 2

    @Test func moveInactiveNeverWritesTheHole() throws {
        // An MMIO exit is a failure here (not allowed), so finishing proves the guest stayed clear of the hole.
        let sample = try run(.moveInactive, slots: 4, vcpus: 2)
        try expectTimed(sample, .moveInactive)
        // The vCPUs synchronise through guest memory while the moves are timed: the only exits
        // are the final sync of each vCPU (the selftest's move guest never exits either).
        #expect(metric(sample, "move-inactive.vcpu_exits") == 2)
        #expect(metric(sample, "move-inactive.held_away_mmio_exits") == nil)
        #expect(sample.phaseStats?["move-inactive.single-move"] != nil)
    }

    @Test func rwPassesWithCorrectTranslationOnSeveralVCPUs() throws {
        let sample = try run(.rw, slots: 13, vcpus: 2, memory: "8M")
        try expectTimed(sample, .rw)
    }

    @Test func aTestThatCannotRunIsANoteNotAFailure() throws {
        let sample = try run(.map, slots: 9000, memory: "40M") // the 32 MiB map area has 8192 pages < 9000 slots
        #expect(metric(sample, "map.average") == nil)
        #expect(sample.notes.contains { $0.hasPrefix("map: not run:") })
        #expect((metric(sample, "slot_setup_time") ?? 0) > 0) // timed on a VM of its own
    }

    @Test func slotsAboveTheMaximumRunAtTheMaximum() throws {
        // A host that offers 12 slots: 11 test slots after kvmbench's slot 0.
        let small = HostLimits(maxVCPUs: 1024, memslots: 12, memAvailable: nil)
        let scenario = try memslots(["slots": "40", "tests": "rw", "mem_per_vcpu": "4M", "duration": "100ms"], limits: small)
        #expect(scenario.slotsEffective == 11 && !scenario.notices.isEmpty)
        let sample = try scenario.measure(in: TestHost.context())
        #expect(metric(sample, "rw.average") != nil)
    }

    @Test func theGuestSideOfRWCatchesAWrongHostWrite() throws {
        let guest = GuestConfiguration(vcpus: 1, memoryPerVCPU: 1 << 20, slots: 3, sharedRegion: true)
        let vm = try GuestVM(configuration: guest, context: TestHost.context(), maxPasses: 2, userCode: MemslotRWProgram.code)
        let map = MemslotMap(slots: vm.slots)
        let view = vm.testMemoryView
        vm.setWorkload(0, WorkloadParameters(base: map.baseAddress, accesses: UInt64(map.pageCount), stride: 4096, writePercent: 100,
                                             random: false, targets: MemslotAccess.hostValue, token: MemslotAccess.guestValue))
        // A good round first: the guest writes, the host fills, the guest verifies.
        try vm.runPasses(1)
        #expect(MemslotAccess.firstMismatch(map, in: view, pages: 0..<map.pageCount, offset: 0, expected: MemslotAccess.guestValue, clear: true) == nil)
        MemslotAccess.fill(map, in: view, pages: 0..<map.pageCount, offset: MemslotAccess.hostOffset, value: MemslotAccess.hostValue)
        try vm.runPasses(1)
        // Then one wrong word at page 100.
        try vm.runPasses(1)
        MemslotAccess.fill(map, in: view, pages: 0..<map.pageCount, offset: MemslotAccess.hostOffset, value: MemslotAccess.hostValue)
        view.store(1, atHostAddress: map.hostAddress(page: 100) + UInt(MemslotAccess.hostOffset))
        let failure = #expect(throws: GuestFailure.self) { try vm.runPasses(1) }
        if HostPaging.current.module == "kvm_amd" {
            // kvm_amd INITs a vCPU that shut down: the failure says the registers are the reset state.
            #expect(failure?.exit == .shutdown && failure?.registers.contains("rip=0xfff0") == true)
            #expect(failure?.description.contains("registers below are its reset state") == true)
        } else {
            #expect(failure?.registers.contains("rdi=\(hex(map.guestAddress(page: 100) + UInt64(MemslotAccess.hostOffset)))") == true)
            #expect(failure?.registers.contains("rax=0x1 ") == true)
        }
    }

    @Test func withoutTheZapAllQuirkMovingAnotherSlotLeavesTheGuestsShadowPages() throws {
        func run(quirk: Bool) throws -> CaseResult {
            let scenario = try memslots(["tests": "move-inactive", "slots": "4", "mem_per_vcpu": "4M", "duration": "150ms",
                                         "zap_all_quirk": "\(quirk)"])
            return CaseRunner.run(scenario: "memslots", parameters: scenario.parameters, settings: RunSettings(warmups: 0, repetitions: 1), host: TestHost.session) { context in
                try scenario.measure(in: context)
            }
        }
        // How many timed moves the guest lived through (and refaulted after) depends on scheduling,
        // so faults are judged over the check instead: one move away and back, each followed by a
        // whole lap of the 48 pages. A lap over an unmapped area takes at least 48 / 8 faults: one
        // fault maps at most 8 pages (shadow paging prefetches the rest of the faulting page's
        // aligned group of 8 guest PTEs, PTE_PREFETCH_NUM; the TDP MMU maps one).
        let lapFaults = Int64(MemslotLoops.movePages / 8)
        let with = try run(quirk: true)
        #expect(with.status == .ok)
        // With the quirk each move zaps every mapping of the guest: both laps refault the whole area.
        // (Faults hold on every MMU; mmu_shadow_zapped only on the shadow MMU's.)
        let withPhase = try #require(with.phaseStats?["move-inactive"])
        let withCheck = try #require(with.phaseStats?["move-inactive.single-move"])
        #expect((withCheck["pf_taken"] ?? 0) >= 2 * lapFaults, "pf_taken \(withCheck["pf_taken"] ?? -1) over the check")
        if HostPaging.current.usesShadowMMU {
            #expect((withPhase["mmu_shadow_zapped"] ?? 0) > 0)
            #expect((withCheck["mmu_shadow_zapped"] ?? 0) > 0)
        }
        let without = try run(quirk: false)
        try skipWhereKVMLacksTheZapAllQuirk(without)
        #expect(without.status == .ok)
        #expect(without.parameters["zap_all_quirk"] == "false")
        // Without it only the moved slot's mappings go, and the guest never touches that slot: it
        // faults only to map its pages the first time, and its laps after the check's moves find
        // the area still mapped (fewer faults than one refault of it would take).
        let withoutPhase = try #require(without.phaseStats?["move-inactive"])
        #expect((withoutPhase["pf_taken"] ?? .max) <= (withoutPhase["pages_4k"] ?? 0) + 8,
                "pf_taken \(withoutPhase["pf_taken"] ?? -1), pages_4k \(withoutPhase["pages_4k"] ?? -1)")
        let withoutCheck = try #require(without.phaseStats?["move-inactive.single-move"])
        #expect((withoutCheck["pf_taken"] ?? .max) < lapFaults, "pf_taken \(withoutCheck["pf_taken"] ?? -1) over the check")
        if HostPaging.current.usesShadowMMU {
            #expect(withoutPhase["mmu_shadow_zapped"] == 0)
            #expect(withoutCheck["mmu_shadow_zapped"] == 0)
        }
    }

    @Test func theDeleteCreateFallbackMovesTheSlotToo() throws {
        let sample = try run(.moveActive, slots: 4, extra: ["move_method": "delete-create"])
        try expectTimed(sample, .moveActive)
        #expect(sample.extraParameters["move_method"] == "delete-create")
        // Forced, not refused: no note claiming the host refused.
        #expect(!sample.notes.contains { $0.contains("refuses") })
        #expect(metric(sample, "move-active.ioctls_per_iteration") == 4)
        // Whether a vCPU wrote the hole during the short window of a timed delete + create depends
        // on scheduling; the check holds the slot deleted (and re-created elsewhere) for a whole
        // lap, so each of the guest's writes to the hole exits, and the case fails unless the
        // writes land in the slot's memory again once it is back.
        #expect(metric(sample, "move-active.mmio_exits") != nil)
        #expect((metric(sample, "move-active.held_away_mmio_exits") ?? 0) >= Double(Self.holePages))
    }
}
