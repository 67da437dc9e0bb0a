import Harness
import Glibc
import KVM
import Synchronization

/// Where each test memslot starts in the test memory, in 4 KiB pages, by slot id: turns a
/// (slot, offset) from KVM into a page index of the test memory.
struct SlotPageMap: Sendable {
    /// Indexed by slot id; -1 for ids that are not test slots (slot 0, the system region).
    let firstPage: [Int]
    let pageCount: [Int]

    init(slots: [Memslot], testBase: UInt64) {
        let size = Int(slots.map(\.id).max() ?? 0) + 1
        var first = [Int](repeating: -1, count: size)
        var count = [Int](repeating: 0, count: size)
        for slot in slots {
            first[Int(slot.id)] = Int((slot.guestPhysicalAddress - testBase) >> 12)
            count[Int(slot.id)] = slot.pageCount
        }
        firstPage = first
        pageCount = count
    }

    /// The test-memory page of (slot, offset) as a dirty ring reports it (slot = as_id << 16 | id),
    /// or nil when it does not lie in a test slot.
    @inline(__always)
    func page(slot: UInt32, offset: UInt64) -> Int? {
        let id = Int(slot & 0xFFFF)
        guard slot >> 16 == 0, id < firstPage.count, firstPage[id] >= 0, offset < UInt64(pageCount[id]) else { return nil }
        return firstPage[id] + Int(offset)
    }
}

/// The bitmaps KVM_GET_DIRTY_LOG fills, one per test slot, allocated before anything is timed.
/// Main thread only.
final class SlotBitmaps {
    let ids: [UInt32]
    let pageCounts: [Int]
    let firstPages: [Int]
    /// KVM copies ALIGN(npages, BITS_PER_LONG) / 8 bytes: whole 64-bit words, as `DirtyBitmap` holds them.
    let bitmaps: [DirtyBitmap]

    init(slots: [Memslot], testBase: UInt64) {
        ids = slots.map(\.id)
        pageCounts = slots.map(\.pageCount)
        firstPages = slots.map { Int(($0.guestPhysicalAddress - testBase) >> 12) }
        bitmaps = pageCounts.map { DirtyBitmap(pages: $0) }
    }

    /// KVM_GET_DIRTY_LOG on every slot; returns the nanoseconds of the ioctls alone.
    func getAll(_ vm: GuestVM) throws(KVMError) -> UInt64 {
        let started = MonotonicClock.now()
        for index in 0..<ids.count { try vm.getDirtyLog(slot: ids[index], into: bitmaps[index]) }
        return MonotonicClock.now() &- started
    }

    /// KVM_CLEAR_DIRTY_LOG on every slot with the bitmap just read: the chunk is the whole slot,
    /// from page 0 (a multiple of 64, as KVM requires) to its end. Returns the nanoseconds of the ioctls.
    func clearAll(_ vm: GuestVM) throws(KVMError) -> UInt64 {
        let started = MonotonicClock.now()
        for index in 0..<ids.count {
            try vm.clearDirtyLog(slot: ids[index], firstPage: 0, pageCount: UInt32(pageCounts[index]), bitmap: bitmaps[index])
        }
        return MonotonicClock.now() &- started
    }

    /// ORs every slot's bitmap into `harvested` (bit = test-memory page); returns the pages set
    /// in the slot bitmaps and counts bits KVM set past a slot's end in `outside`.
    func merge(into harvested: inout [UInt64], outside: inout Int) -> Int {
        var count = 0
        for index in 0..<ids.count {
            let bitmap = bitmaps[index], pages = pageCounts[index], first = firstPages[index]
            for word in 0..<bitmap.wordCount {
                var bits = bitmap[word: word]
                while bits != 0 {
                    let bit = bits.trailingZeroBitCount
                    bits &= bits &- 1
                    let offset = word * 64 + bit
                    guard offset < pages else { outside += 1; continue }
                    let page = first + offset
                    harvested[page >> 6] |= 1 << UInt64(page & 63)
                    count += 1
                }
            }
        }
        return count
    }
}

/// One vCPU's dirty ring and what has been harvested from it, behind a lock.
///
/// Thread-safety: the ring is harvested by two parties. The vCPU's own thread harvests it in its
/// KVM_EXIT_DIRTY_RING_FULL handler (the vCPU is then outside KVM_RUN), and the main thread
/// harvests it after each pass (all vCPUs parked) or, in concurrent mode, while the vCPU runs.
/// The ring's fetch index and the harvested bitmap are shared between them, so every access goes
/// through this `Mutex`. The kernel side needs no lock: KVM publishes each entry by setting
/// KVM_DIRTY_GFN_F_DIRTY with release semantics and `DirtyRing.harvest` reads it with acquire,
/// which is what KVM_CAP_DIRTY_LOG_RING_ACQ_REL asks of a harvester running beside the vCPU.
/// The ring is a copy of the vCPU's `DirtyRing` taken once, before any vCPU ran; from then on
/// only this copy is used (the harness's own copy is never harvested), so there is one fetch index.
final class RingHarvestState: Sendable {
    struct State {
        var ring: DirtyRing
        /// Bit i = test-memory page i was reported by this vCPU's ring since the last `drain`.
        let bitmap: DirtyBitmap
        /// Entries harvested in total, and by the ring-full handler alone.
        var entries = 0
        var handlerEntries = 0
        /// Entries whose (slot, offset) is not in a test slot; the first one, for the message.
        var outside = 0
        var firstOutside: (slot: UInt32, offset: UInt64)?
        /// Time spent in the ring-full handler (waiting for this lock, the harvest and KVM_RESET_DIRTY_RINGS).
        var handlerNanos: UInt64 = 0
        /// errno of a failed KVM_RESET_DIRTY_RINGS in the handler (0: none).
        var resetErrno: Int32 = 0
    }

    let state: Mutex<State>

    /// `pages`: the test memory's 4 KiB pages, the bitmap's bits.
    init(ring: DirtyRing, pages: Int) {
        state = Mutex(State(ring: ring, bitmap: DirtyBitmap(pages: pages)))
    }

    /// Harvests every published entry into the bitmap; returns the entries and the nanoseconds of
    /// the harvest itself (the lock is taken outside the timed region).
    func harvest(map: SlotPageMap) -> (entries: Int, nanos: UInt64) {
        state.withLock { state in
            let started = MonotonicClock.now()
            let entries = Self.harvest(&state, map: map)
            return (entries, MonotonicClock.now() &- started)
        }
    }

    @inline(__always)
    static func harvest(_ state: inout State, map: SlotPageMap) -> Int {
        let bitmap = state.bitmap
        var outside = 0
        var firstOutside: (slot: UInt32, offset: UInt64)?
        let count = state.ring.harvest { slot, offset in
            if let page = map.page(slot: slot, offset: offset) {
                bitmap.insert(page: page)
            } else {
                outside += 1
                if firstOutside == nil { firstOutside = (slot, offset) }
            }
        }
        state.entries += count
        state.outside += outside
        if state.firstOutside == nil { state.firstOutside = firstOutside }
        return count
    }

    /// Time this vCPU's thread has spent in the ring-full handler so far (read while it is parked).
    var handlerNanos: UInt64 { state.withLock { $0.handlerNanos } }

    /// ORs the harvested bitmap into `harvested` and clears it. Main thread, vCPUs parked.
    func drain(into harvested: inout [UInt64]) {
        state.withLock { state in
            for word in 0..<state.bitmap.wordCount { harvested[word] |= state.bitmap[word: word] }
            state.bitmap.removeAll()
        }
    }
}

/// The dirty rings of all vCPUs, and the KVM_EXIT_DIRTY_RING_FULL handler.
final class RingHarvester: Sendable {
    let vcpus: [RingHarvestState]
    let map: SlotPageMap
    /// KVM_RESET_DIRTY_RINGS from vCPU threads (the VM outlives every vCPU thread).
    let resetter: DirtyRingResetter

    init(rings: [DirtyRing], map: SlotPageMap, pages: Int, resetter: DirtyRingResetter) {
        vcpus = rings.map { RingHarvestState(ring: $0, pages: pages) }
        self.map = map
        self.resetter = resetter
    }

    /// Runs on vCPU `index`'s thread when KVM_RUN returned KVM_EXIT_DIRTY_RING_FULL: harvests that
    /// vCPU's ring and resets. KVM_RESET_DIRTY_RINGS re-protects the harvested entries of every
    /// vCPU's ring (only entries userspace marked with KVM_DIRTY_GFN_F_RESET), so calling it from
    /// one vCPU thread while others run or harvest is safe; KVM serialises resets on slots_lock.
    /// The vCPU re-enters KVM_RUN only after the reset brought its ring below the soft limit.
    func handleFull(vcpu index: Int) {
        // Timed from before the lock: waiting for it is part of what the vCPU loses to the handler.
        let started = MonotonicClock.now()
        vcpus[index].state.withLock { state in
            let entries = RingHarvestState.harvest(&state, map: map)
            state.handlerEntries += entries
            let error = resetRings()
            if error != 0 && state.resetErrno == 0 { state.resetErrno = error }
            state.handlerNanos &+= MonotonicClock.now() &- started
        }
    }

    /// KVM_RESET_DIRTY_RINGS; returns 0 or the errno.
    func resetRings() -> Int32 {
        do { try resetter.reset() } catch { return error.errno.rawValue }
        return 0
    }

    /// Sums over vCPUs (read while parked or after a loop).
    func totals() -> (entries: Int, handlerEntries: Int, handlerNanos: UInt64, outside: Int,
                      firstOutside: (slot: UInt32, offset: UInt64)?, resetErrno: Int32) {
        var entries = 0, handlerEntries = 0, outside = 0
        var nanos: UInt64 = 0
        var first: (slot: UInt32, offset: UInt64)?
        var resetErrno: Int32 = 0
        for vcpu in vcpus {
            vcpu.state.withLock { state in
                entries += state.entries
                handlerEntries += state.handlerEntries
                nanos &+= state.handlerNanos
                outside += state.outside
                if first == nil { first = state.firstOutside }
                if resetErrno == 0 { resetErrno = state.resetErrno }
            }
        }
        return (entries, handlerEntries, nanos, outside, first, resetErrno)
    }
}
