import Harness
import Backings
import Glibc
import GuestPrograms
import KVM

// The six tests of `memslots`, each the counterpart of one loop of the kernel selftests'
// memslot_perf_test.c, driven through GuestVM's passes instead of the selftest's shared-memory
// sync flags: a vCPU pass is the guest half of one selftest sync period, and `beginPasses` /
// `finishPasses` let the host work while it runs.

/// Guest-physical page -> host address through the test memslots, as the selftest's
/// `vm_gpa2hva` does it: the slot index comes from the page number (every slot but the last holds
/// `pagesPerSlot` pages, the last also the remainder), the address from that slot's own
/// `userspace_addr`. Used for every host access to guest memory, so the `rw` test checks the
/// host's slot translation against KVM's.
public struct MemslotMap: Sendable {
    /// Guest-physical address of page 0 (the first slot's start).
    public let baseAddress: UInt64
    public let pageCount: Int
    public let pagesPerSlot: Int
    /// `userspace_addr` of every slot, in guest-physical order.
    public let hostAddresses: [UInt]

    /// The map of `slots` as GuestVM splits the test memory: contiguous, equal but the last.
    public init(slots: [Memslot]) {
        precondition(!slots.isEmpty, "no slots")
        baseAddress = slots[0].guestPhysicalAddress
        pageCount = slots.reduce(0) { $0 + $1.pageCount }
        pagesPerSlot = slots[0].pageCount
        hostAddresses = slots.map(\.hostAddress)
    }

    public var slotCount: Int { hostAddresses.count }

    @inline(__always)
    public func slotIndex(page: Int) -> Int { Swift.min(page / pagesPerSlot, hostAddresses.count - 1) }

    @inline(__always)
    public func hostAddress(page: Int) -> UInt {
        let slot = slotIndex(page: page)
        return hostAddresses[slot] + UInt(page - slot * pagesPerSlot) * 4096
    }

    /// Pages from `page` to the end of its slot (the selftest's `rempages`).
    @inline(__always)
    public func pagesToSlotEnd(page: Int) -> Int {
        let slot = slotIndex(page: page)
        let slotPages = slot == hostAddresses.count - 1 ? pageCount - slot * pagesPerSlot : pagesPerSlot
        return slotPages - (page - slot * pagesPerSlot)
    }

    @inline(__always)
    public func guestAddress(page: Int) -> UInt64 { baseAddress + UInt64(page) * 4096 }
}

/// Host-side accesses of the memslot tests: plain loops over `MemslotMap`, through a view of the
/// memory the slots map (the test memory), free of allocation so they may sit inside timed iterations.
public enum MemslotAccess {
    /// Values the `rw` test writes: the guest's at offset 0 of each page, the host's at offset 2048
    /// (the selftest's MEM_TEST_VAL_1 and MEM_TEST_VAL_2).
    public static let guestValue: UInt64 = 0x1122_3344_5566_7788
    public static let hostValue: UInt64 = 0x99AA_BBCC_DDEE_FF00
    public static let hostOffset = MemslotRWProgram.hostOffset

    /// Stores `value` at `offset` of every page in `pages`, each through the slot translation.
    public static func fill(_ map: MemslotMap, in memory: TestMemoryView, pages: Range<Int>, offset: Int, value: UInt64) {
        for page in pages {
            memory.store(value, atHostAddress: map.hostAddress(page: page) + UInt(offset))
        }
    }

    /// The verification of the `rw` test: the first page in `pages` whose 8-byte word at `offset`
    /// is not `expected`, with the value found; nil when all match. With `clear`, every word that
    /// matched is zeroed, so the next iteration cannot pass on stale data (the selftest does the same).
    public static func firstMismatch(_ map: MemslotMap, in memory: TestMemoryView, pages: Range<Int>, offset: Int, expected: UInt64,
                                     clear: Bool) -> (page: Int, found: UInt64)? {
        for page in pages {
            let word = map.hostAddress(page: page) + UInt(offset)
            let found = memory.load(atHostAddress: word)
            if found != expected { return (page, found) }
            if clear { memory.store(0, atHostAddress: word) }
        }
        return nil
    }

    /// MADV_DONTNEED on `pages` in pieces of at most `chunk` pages, each piece further split at
    /// slot boundaries (the selftest's `test_memslot_do_unmap`: one madvise per slot piece).
    /// Every call makes the kernel run KVM's MMU-notifier invalidation for that range. Returns 0 or
    /// the errno of the first failing madvise.
    public static func discard(_ map: MemslotMap, pages: Range<Int>, chunk: Int) -> Int32 {
        var page = pages.lowerBound
        while page < pages.upperBound {
            let chunkEnd = Swift.min(page + chunk, pages.upperBound)
            while page < chunkEnd {
                let count = Swift.min(map.pagesToSlotEnd(page: page), chunkEnd - page)
                // The range stays inside one slot's host memory.
                let error = HostMemory.discard(address: map.hostAddress(page: page), length: count * 4096)
                if error != 0 { return error }
                page += count
            }
        }
        return 0
    }
}

/// A correctness check of a memslot test that failed: what was expected where, and what was found.
public struct MemslotCheckFailed: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Best and average time per iteration of one test's loop.
struct LoopTiming {
    var iterations = 0
    var best = UInt64.max
    /// From the start of the first iteration to the end of the last.
    var total: UInt64 = 0

    var average: Double { iterations == 0 ? 0 : Double(total) / Double(iterations) }

    /// Runs `body` until `duration` nanoseconds have passed, as the selftest's `test_execute` does
    /// (the check comes before each iteration, so the last one may end after the deadline).
    /// Each iteration is timed between two CLOCK_MONOTONIC reads; nothing else happens in it.
    static func run(for duration: UInt64, _ body: () throws -> Void) rethrows -> LoopTiming {
        var timing = LoopTiming()
        let start = MonotonicClock.now()
        var now = start
        while now &- start < duration {
            try body()
            let end = MonotonicClock.now()
            timing.best = Swift.min(timing.best, end &- now)
            timing.iterations += 1
            now = end
        }
        timing.total = now &- start
        return timing
    }
}

/// How `move-active` / `move-inactive` move the last slot.
public enum MemslotMoveMethod: String, Sendable {
    /// KVM_SET_USER_MEMORY_REGION with the same slot id and a new guest-physical address (KVM_MR_MOVE).
    case inPlace = "in-place"
    /// KVM_MR_DELETE then KVM_MR_CREATE at the new address: what a VMM does where in-place moves are refused.
    case deleteCreate = "delete-create"
}

/// The loops themselves. Each takes a VM whose test slots exist and whose host memory is populated,
/// and returns with every vCPU parked, also when it throws.
enum MemslotLoops {
    /// Contiguous share of `count` pages for vCPU `index` of `vcpus`.
    static func share(_ count: Int, vcpu index: Int, of vcpus: Int) -> Range<Int> {
        (count * index / vcpus) ..< (count * (index + 1) / vcpus)
    }

    /// Waits until every vCPU started by `startContinuous` has finished at least one pass.
    static func waitUntilRunning(_ vm: GuestVM) throws {
        let deadline = MonotonicClock.now() + 30_000_000_000
        while vm.continuousPasses < vm.vcpuCount {
            if MonotonicClock.now() > deadline {
                throw MemslotCheckFailed("the vCPUs did not complete a pass within 30 s of being started")
            }
            usleep(100)
        }
    }

    /// Waits (untimed) until every vCPU's guest completed a lap since `before`, read from the
    /// progress counters in guest memory (no exit involved).
    static func waitForLaps(_ vm: GuestVM, after before: [UInt64]) throws {
        let deadline = MonotonicClock.now() + 30_000_000_000
        while (0..<vm.vcpuCount).contains(where: { vm.guestProgress(vcpu: $0) == before[$0] }) {
            if MonotonicClock.now() > deadline {
                throw MemslotCheckFailed("the vCPUs did not complete a lap of their area within 30 s of being started")
            }
            usleep(100)
        }
    }

    /// Waits (untimed) until every vCPU's guest has completed a whole lap that began after the
    /// call: the lap under way when called may have started before it, so two more laps.
    static func waitForWholeLap(_ vm: GuestVM) throws {
        for _ in 0..<2 {
            try waitForLaps(vm, after: (0..<vm.vcpuCount).map { vm.guestProgress(vcpu: $0) })
        }
    }

    static func checkToken(_ test: String, _ map: MemslotMap, in memory: TestMemoryView, page: Int, token: UInt64) throws {
        if let bad = MemslotAccess.firstMismatch(map, in: memory, pages: page..<(page + 1), offset: 0, expected: token, clear: false) {
            throw MemslotCheckFailed("\(test): guest-written value did not read back at gpa \(hex(map.guestAddress(page: bad.page))): \(hex(bad.found)) instead of \(hex(token))")
        }
    }

    /// map: the guest writes (so KVM maps) one half of the area while the host MADV_DONTNEEDs the
    /// other half, then the halves swap; every iteration the guest faults the whole area back in.
    static func map(_ vm: GuestVM, _ map: MemslotMap, duration: UInt64, token: UInt64) throws -> LoopTiming {
        let pages = map.pageCount, half = pages / 2, vcpus = vm.vcpuCount
        var firstHalf = [UInt64](repeating: 0, count: vcpus), secondHalf = firstHalf
        for index in 0..<vcpus {
            let range = share(half, vcpu: index, of: vcpus)
            vm.setWorkload(index, WorkloadParameters(base: map.guestAddress(page: range.lowerBound), accesses: UInt64(range.count),
                                                     stride: 4096, writePercent: 100, random: false,
                                                     targets: UInt64(range.count), token: token))
            firstHalf[index] = map.guestAddress(page: range.lowerBound)
            secondHalf[index] = map.guestAddress(page: half + range.lowerBound)
        }
        var failed: Int32 = 0
        let timing = try LoopTiming.run(for: duration) {
            for index in 0..<vcpus { vm.setWorkloadBase(firstHalf[index], vcpu: index) }
            vm.beginPasses(1)
            failed = MemslotAccess.discard(map, pages: half..<pages, chunk: pages)
            try vm.finishPasses()
            for index in 0..<vcpus { vm.setWorkloadBase(secondHalf[index], vcpu: index) }
            vm.beginPasses(1)
            if failed == 0 { failed = MemslotAccess.discard(map, pages: 0..<half, chunk: pages) }
            try vm.finishPasses()
            if failed != 0 { throw MemslotCheckFailed("map: madvise(MADV_DONTNEED) failed: errno \(failed)") }
        }
        // The last pass wrote the second half: its first and last page must hold the token (the selftest's -d check).
        try checkToken("map", map, in: vm.testMemoryView, page: half, token: token)
        try checkToken("map", map, in: vm.testMemoryView, page: pages - 1, token: token)
        return timing
    }

    /// unmap / unmap-2m: the guest writes one page of one half while the host MADV_DONTNEEDs the
    /// other half `chunk` pages at a time (1 = page by page, 512 = 2 MiB pieces), then the halves swap.
    static func unmap(_ vm: GuestVM, _ map: MemslotMap, chunk: Int, duration: UInt64, token: UInt64) throws -> LoopTiming {
        let pages = map.pageCount, half = pages / 2
        for index in 0..<vm.vcpuCount {
            vm.setWorkload(index, WorkloadParameters(base: map.baseAddress, accesses: index == 0 ? 1 : 0, stride: 4096,
                                                     writePercent: 100, random: false, targets: 1, token: token))
        }
        let pageZero = map.guestAddress(page: 0), pageHalf = map.guestAddress(page: half)
        var failed: Int32 = 0
        let timing = try LoopTiming.run(for: duration) {
            vm.setWorkloadBase(pageHalf, vcpu: 0)
            vm.beginPasses(1)
            failed = MemslotAccess.discard(map, pages: 0..<half, chunk: chunk)
            try vm.finishPasses()
            vm.setWorkloadBase(pageZero, vcpu: 0)
            vm.beginPasses(1)
            if failed == 0 { failed = MemslotAccess.discard(map, pages: half..<pages, chunk: chunk) }
            try vm.finishPasses()
            if failed != 0 { throw MemslotCheckFailed("unmap: madvise(MADV_DONTNEED) failed: errno \(failed)") }
        }
        // The last pass wrote page 0 while the host dropped the other half.
        try checkToken("unmap", map, in: vm.testMemoryView, page: 0, token: token)
        return timing
    }

    /// Pages the move tests' guest writes: the selftest's 50 less 2, so that with exactly 512 MiB
    /// in 32763 slots (4 pages each, the last 24) the moved slot still holds half of it.
    static let movePages = 48

    /// Pages `move-active` writes with `pages` split into `slots`: 48, or twice the last slot's
    /// pages when that slot is smaller than 24 (an even split leaves no remainder: 512 MiB in 8192
    /// slots gives 16 pages each), so that half the area always lies in the moved slot.
    static func moveActivePages(slots: Int, pages: Int) -> Int {
        let last = pages - (pages / max(slots, 1)) * (max(slots, 1) - 1)
        return min(movePages, 2 * last)
    }

    /// Why `move-active` / `move-inactive` cannot run with `pages` split into `slots`, or nil.
    static func moveProblem(active: Bool, slots: Int, pages: Int) -> String? {
        if slots < 2 { return "needs at least 2 slots (the last one moves while the guest writes the others)" }
        let last = pages - (pages / slots) * (slots - 1)
        let before = pages - last
        let needed = active ? moveActivePages(slots: slots, pages: pages) / 2 : movePages
        if before < needed { return "the slots before the last hold \(before) pages and the guest writes \(needed) there; raise --mem-per-vcpu" }
        return nil
    }

    /// What `move` measured and checked.
    struct MoveOutcome {
        var timing: LoopTiming
        var method: MemslotMoveMethod
        /// The host refused the in-place probe, so the moves were delete + create.
        var refused: Bool
        /// MMIO exits while the moves were timed: as many as the vCPUs happened to write into the
        /// hole while the slot was away, which depends on scheduling (0 is possible).
        var mmioExits: Int
        /// Every exit but the check's: the MMIO exits above and the final sync of each vCPU.
        var exits: Int
        /// The check's MMIO exits (see `checkMove`): with the slot held away for a whole lap of
        /// every vCPU, at least `pages / 2` per vCPU for move-active, 0 for move-inactive.
        var heldAwayMMIOExits: Int
        /// KVM stats over the check: one move away and back, each followed by a whole lap of every vCPU.
        var checkStats: [String: Int64]
    }

    /// move-active / move-inactive: the last slot is moved past the end of guest memory and back,
    /// while every vCPU keeps writing a 48-page area (see `moveActivePages`) that straddles its start (active: half of the
    /// area lies in it, and writes to the hole exit to the host as MMIO) or ends right before it
    /// (inactive). With the zap-all quirk every move zaps every shadow page.
    /// `method` nil probes (untimed) whether the host moves a slot in place and falls back to delete + create
    /// on EINVAL; a forced `.inPlace` the host refuses is unsupported.
    /// After the timed moves `checkMove` moves the slot once more, untimed, waiting for the guest.
    static func move(_ vm: GuestVM, active: Bool, method requested: MemslotMoveMethod?, duration: UInt64,
                     token: UInt64) throws -> MoveOutcome {
        let lastIndex = vm.slots.count - 1
        let last = vm.slots[lastIndex]
        let pages = active ? moveActivePages(slots: vm.slots.count, pages: MemslotMap(slots: vm.slots).pageCount) : movePages
        let areaStart = last.guestPhysicalAddress - UInt64(active ? pages / 2 : pages) * 4096
        for index in 0..<vm.vcpuCount {
            // `MemslotMoveProgram`'s block: targets is its stop word, 0 while it runs.
            vm.setWorkload(index, WorkloadParameters(base: areaStart, accesses: UInt64(pages), stride: 4096, writePercent: 100,
                                                     random: false, targets: 0, token: token))
        }
        // The selftest's MEM_TEST_MOVE_GPA_DEST: right past the end of guest memory.
        let destination = vm.layout.testBase + vm.layout.testSize
        var moved = last
        moved.guestPhysicalAddress = destination

        // Probe (untimed, guest parked) whether this host moves a slot in place.
        var method = requested ?? .inPlace
        var refused = false
        if method == .inPlace {
            do throws(KVMError) {
                try vm.moveMemslot(last, to: destination)
                try vm.moveMemslot(moved, to: last.guestPhysicalAddress)
            } catch {
                guard error.errno == .invalidArgument else { throw error }
                if requested == .inPlace {
                    throw ScenarioUnsupported("this host refuses an in-place KVM_MR_MOVE (KVM_SET_USER_MEMORY_REGION with a new guest_phys_addr: EINVAL); use --move-method delete-create or auto")
                }
                method = .deleteCreate
                refused = true
            }
        }

        vm.allowMMIOExits(active)
        let mmioBefore = vm.mmioExits
        let lapsBefore = (0..<vm.vcpuCount).map { vm.guestProgress(vcpu: $0) }
        let exitsBefore = (0..<vm.vcpuCount).reduce(0) { $0 + vm.exits(vcpu: $1) }
        // One pass per vCPU that lasts until the stop word: no sync exit while the moves are timed.
        vm.beginPasses(1)
        let timing: LoopTiming
        func stopGuest() throws {
            for index in 0..<vm.vcpuCount {
                vm.storeParameterWord(1, atOffset: MemslotMoveProgram.stopOffset, vcpu: index)
            }
            try vm.finishPasses()
        }
        let check: (heldAwayExits: Int, stats: [String: Int64])
        do {
            try waitForLaps(vm, after: lapsBefore)
            switch method {
            case .inPlace:
                timing = try LoopTiming.run(for: duration) {
                    try vm.moveMemslot(last, to: destination)
                    try vm.moveMemslot(moved, to: last.guestPhysicalAddress)
                }
            case .deleteCreate:
                timing = try LoopTiming.run(for: duration) {
                    try vm.deleteMemslot(id: last.id)
                    try vm.setMemslot(moved)
                    try vm.deleteMemslot(id: moved.id)
                    try vm.setMemslot(last)
                }
            }
            check = try checkMove(vm, active: active, method: method, last: last, moved: moved,
                                  holePages: active ? pages / 2 : 0, token: token)
        } catch {
            try? stopGuest()
            vm.allowMMIOExits(false)
            throw error
        }
        try stopGuest()
        vm.allowMMIOExits(false)
        let exits = (0..<vm.vcpuCount).reduce(0) { $0 + vm.exits(vcpu: $1) } - exitsBefore - check.heldAwayExits
        return MoveOutcome(timing: timing, method: method, refused: refused, mmioExits: vm.mmioExits - mmioBefore - check.heldAwayExits,
                           exits: exits, heldAwayMMIOExits: check.heldAwayExits, checkStats: check.stats)
    }

    /// The check after the timed moves, untimed and independent of scheduling: the slot moves away
    /// (by `method`) and stays away until every vCPU has written a whole lap of its area, then moves
    /// back for another whole lap. While it is away the guest's writes to its old GPAs cannot reach
    /// its memory: KVM zapped their mappings and has no slot there, so each write exits to the host
    /// as MMIO (move-active: `holePages` per lap of every vCPU; move-inactive writes none there).
    /// Back in place, the writes land in its memory again. Returns the exits while the slot was
    /// away and the KVM stats over the whole check (with the zap-all quirk both moves zap every
    /// mapping, so each following lap refaults the whole area; without it, the area stays mapped).
    private static func checkMove(_ vm: GuestVM, active: Bool, method: MemslotMoveMethod, last: Memslot, moved: Memslot,
                                  holePages: Int, token: UInt64) throws -> (heldAwayExits: Int, stats: [String: Int64]) {
        let name = active ? MemslotTest.moveActive.rawValue : MemslotTest.moveInactive.rawValue
        func exits() -> Int { (0..<vm.vcpuCount).reduce(0) { $0 + vm.exits(vcpu: $1) } }
        // Every page of the area mapped again since the last timed move.
        try waitForWholeLap(vm)
        let before = vm.readStats()
        let exitsBefore = exits()
        switch method {
        case .inPlace: try vm.moveMemslot(last, to: moved.guestPhysicalAddress)
        case .deleteCreate:
            try vm.deleteMemslot(id: last.id)
            try vm.setMemslot(moved)
        }
        // The ioctl has zapped the old mappings: from here nothing the guest does reaches this word.
        let memory = vm.testMemoryView
        memory.store(0, atHostAddress: last.hostAddress)
        try waitForWholeLap(vm)
        let heldAwayExits = exits() - exitsBefore
        let leaked = memory.load(atHostAddress: last.hostAddress)
        switch method {
        case .inPlace: try vm.moveMemslot(moved, to: last.guestPhysicalAddress)
        case .deleteCreate:
            try vm.deleteMemslot(id: moved.id)
            try vm.setMemslot(last)
        }
        try waitForWholeLap(vm)
        let stats = vm.statsDeltas(from: before, to: vm.readStats())
        if leaked != 0 {
            throw MemslotCheckFailed("\(name): the slot's memory at its first page read \(hex(leaked)) while the slot was moved away (\(method.rawValue)): a guest write reached it through the old address")
        }
        if heldAwayExits < holePages * vm.vcpuCount {
            throw MemslotCheckFailed("\(name): with the slot moved away (\(method.rawValue)) for a whole lap of every vCPU, the guest took \(heldAwayExits) MMIO exits; its writes to the \(holePages) pages of the hole must each exit (at least \(holePages * vm.vcpuCount))")
        }
        if active {
            let found = memory.load(atHostAddress: last.hostAddress)
            if found != token {
                throw MemslotCheckFailed("\(name): after the slot moved back (\(method.rawValue)) and a whole lap, its first page held \(hex(found)) instead of the guest's \(hex(token))")
            }
        }
        return (heldAwayExits, stats)
    }

    /// rw: each iteration the guest writes `guestValue` at offset 0 of every page while the host
    /// writes `hostValue` at offset 2048 of every page (through `MemslotMap`); then the host checks
    /// offset 0 and the guest checks offset 2048, each zeroing what it checked. A wrong slot
    /// translation on either side makes a check fail. Needs `MemslotRWProgram` as the guest.
    static func rw(_ vm: GuestVM, _ map: MemslotMap, duration: UInt64) throws -> LoopTiming {
        let vcpus = vm.vcpuCount, pages = map.pageCount
        for index in 0..<vcpus {
            let range = share(pages, vcpu: index, of: vcpus)
            vm.setWorkload(index, WorkloadParameters(base: map.guestAddress(page: range.lowerBound), accesses: UInt64(range.count),
                                                     stride: 4096, writePercent: 100, random: false,
                                                     targets: MemslotAccess.hostValue, token: MemslotAccess.guestValue))
        }
        let memory = vm.testMemoryView
        do {
            return try LoopTiming.run(for: duration) {
                vm.beginPasses(1)
                MemslotAccess.fill(map, in: memory, pages: 0..<pages, offset: MemslotAccess.hostOffset, value: MemslotAccess.hostValue)
                try vm.finishPasses()
                vm.beginPasses(1)
                let mismatch = MemslotAccess.firstMismatch(map, in: memory, pages: 0..<pages, offset: 0, expected: MemslotAccess.guestValue, clear: true)
                try vm.finishPasses()
                if let bad = mismatch {
                    throw MemslotCheckFailed("rw: the host read \(hex(bad.found)) instead of \(hex(MemslotAccess.guestValue)) at gpa \(hex(map.guestAddress(page: bad.page))) (slot \(map.slotIndex(page: bad.page) + 1)): the guest's write went elsewhere")
                }
            }
        } catch let failure as GuestFailure {
            throw MemslotCheckFailed("rw: the guest did not read back the value the host wrote through its slot translation (\(hex(MemslotAccess.hostValue)) at offset \(MemslotAccess.hostOffset) of each page); at the failing check rdi is the guest address and rax the value read. \(failure)")
        }
    }
}
