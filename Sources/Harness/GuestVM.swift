import Backings
import Dispatch
import Foundation
import GuestPrograms
import Host
import KVM

/// A running kvmbench guest: the VM, its memory and memslots, and one parked thread per vCPU.
///
/// Built the way the kernel selftests' memstress builds its VM: slot 0 holds the guest image
/// (GDT, code, page tables), the test memory sits at 4 GiB in `configuration.slots` memslots, and
/// every vCPU gets its own region (or all share one) and its own parameter block. Creating it
/// touches nothing in the test memory, so the first pass measures demand paging.
public final class GuestVM {
    public let configuration: GuestConfiguration
    public let layout: GuestLayout
    /// The host session and watchdog limit of the repetition that built this guest.
    let context: CaseContext
    /// The VM. Private: every memslot ioctl goes through this class, which keeps `slots` true.
    private var vm: VirtualMachine
    let systemMemory: HostMemory
    public let testMemory: HostMemory
    /// The test memslots, in guest-physical order, as KVM has them (flags and addresses follow
    /// every `setMemslot`/`moveMemslot` on them).
    public private(set) var slots: [Memslot]
    /// Whether test slot `index` is in KVM (false after `deleteMemslot`, until it is set again).
    private var testSlotInstalled: [Bool]
    /// Slots beyond slot 0 and the test slots that a scenario added (kept small; no allocation
    /// while it holds fewer than its reserved capacity).
    public private(set) var otherSlots: [Memslot] = []
    let workers: [VCPUWorker]
    let done = DispatchSemaphore(value: 0)
    var vmStats: BinaryStats?
    private var vcpuStats: [StatsBox]
    /// Dirty ring entries per vCPU, when the VM was built with one.
    public let dirtyRingEntries: Int
    /// How many of `slots` KVM has (all of them unless the VM was built with `deferTestSlots`).
    public private(set) var testSlotsAdded = 0
    /// Start of the passes released by `beginPasses`.
    private var passesStarted: UInt64 = 0
    /// `--pin` / `--numa-node`: applied while the VM is built, undone when it goes.
    let placement: GuestPlacement
    private var workersStarted = false

    /// Creates the VM and parks its vCPU threads. `dirtyRingEntries` > 0 enables the dirty ring
    /// (before vCPUs exist, as KVM requires); `prepareVM` runs on the VM before any memslot is added.
    /// With `deferTestSlots` the test memslots are computed but not given to KVM until
    /// `addTestSlots()`, so a scenario can time their creation; `userCode` replaces the CPL3
    /// workload (it must end each pass with `out` to `GuestLayout.syncPort`).
    public init(configuration: GuestConfiguration, context: CaseContext, maxPasses: Int = 64, dirtyRingEntries: Int = 0,
                deferTestSlots: Bool = false, userCode: [UInt8] = WorkloadProgram.code,
                prepareVM: (borrowing VirtualMachine) throws -> Void = { _ in }) throws {
        self.configuration = configuration
        let layout = GuestLayout(vcpuCount: configuration.vcpus, testSize: configuration.testSize,
                                 guestPageSize: configuration.guestPageSize)
        self.layout = layout
        // Placement before anything is touched: the main thread's CPUs, then the memory policy.
        let placement = try GuestPlacement(configuration: configuration)
        self.placement = placement
        // Memory a cgroup limit would refuse fails the case here: past the limit the OOM killer
        // would end the whole run. Hugetlb pages are charged to the hugetlb controller instead.
        try MemoryCgroup.checkRoom(for: (configuration.backing.hugetlbPool == nil ? configuration.testSize : 0) + layout.systemSize,
                                   what: "a guest of \(configuration.vcpus) vCPU(s) with \(configuration.backing.rawValue) memory")
        // Host memory first: a backing this host cannot give is "unsupported" before any VM exists.
        // guest_memfd memory comes from the VM, so only its support is checked here.
        let isGuestMemfd = configuration.backing == .guestMemfd
        var ordinaryMemory: HostMemory? = nil
        if !isGuestMemfd {
            let memory: HostMemory
            do {
                memory = try HostMemory(kind: configuration.backing, size: configuration.testSize,
                                        allowReservation: configuration.reserveHugepages)
            } catch { throw ScenarioUnsupported("\(configuration.backing.rawValue): \(error.reason)") }
            try placement.bind(memory)
            ordinaryMemory = consume memory
        }
        let systemMemory = try HostMemory(kind: .anonymous4k, size: layout.systemSize)
        GuestImage.write(layout: layout, into: systemMemory.buffer, userCode: userCode, adBits: configuration.guestADBits)

        let kvm = context.host
        if isGuestMemfd { try GuestMemfdSupport.check(kvm.kvm) }
        var vm = try kvm.kvm.createVM()
        let testMemory: HostMemory
        if let memory = ordinaryMemory.take() {
            testMemory = memory
        } else {
            let fd = try vm.createGuestMemfd(size: configuration.testSize, flags: GuestMemfdSupport.flags)
            do { testMemory = try HostMemory(guestMemfd: fd, size: configuration.testSize) }
            catch { throw ScenarioUnsupported("guest-memfd: \(error.reason)") }
        }
        try? vm.setTSSAddress(0xFFFB_D000) // Intel needs three pages below 4 GiB for real mode; harmless elsewhere.
        try prepareVM(vm)
        if dirtyRingEntries > 0 {
            guard kvm.kvm.check(.dirtyLogRing) > 0 || kvm.kvm.check(.dirtyLogRingAcqRel) > 0 else {
                throw ScenarioUnsupported("this host has no dirty ring (KVM_CAP_DIRTY_LOG_RING and _ACQ_REL are 0)")
            }
            try vm.enableDirtyRing(entries: dirtyRingEntries)
        }
        self.dirtyRingEntries = dirtyRingEntries

        try vm.setMemslot(Memslot(id: 0, guestPhysicalAddress: 0, size: layout.systemSize, hostAddress: systemMemory.address))
        slots = Self.splitIntoSlots(configuration: configuration, layout: layout, hostAddress: testMemory.address)
        testSlotInstalled = [Bool](repeating: !deferTestSlots, count: slots.count)
        otherSlots.reserveCapacity(8)
        if isGuestMemfd, let fd = testMemory.memfd {
            for index in slots.indices {
                slots[index].guestMemfd = GuestMemfdBinding(fd: fd, offset: UInt64(slots[index].hostAddress - testMemory.address))
            }
        }
        if !deferTestSlots {
            for slot in slots { try vm.setMemslot(slot) }
            testSlotsAdded = slots.count
        }
        if configuration.hostPrefault { testMemory.prefault() }

        let cpuid = try kvm.kvm.supportedCPUID()
        var workers: [VCPUWorker] = []
        var boxes: [StatsBox] = []
        for index in 0..<configuration.vcpus {
            let vcpu = try vm.createVCPU(id: UInt32(index))
            try vcpu.setCPUID(cpuid)
            let state = VCPUEntryState(layout: layout, vcpu: index, seed: configuration.seed)
            try Self.load(state, into: vcpu)
            let workload = Self.defaultWorkload(index, configuration: configuration, layout: layout)
            GuestImage.prepare(vcpu: index, workload: workload, layout: layout, into: systemMemory.buffer)
            boxes.append(StatsBox(stats: try? vcpu.openStats()))
            workers.append(VCPUWorker(index: index, vcpu: vcpu, done: done, maxPasses: maxPasses))
        }
        vmStats = try? vm.openStats()
        for (index, worker) in workers.enumerated() { worker.pinCPU = placement.plan?.vcpuCPUs[index] }
        self.context = context
        self.vm = vm
        self.systemMemory = systemMemory
        self.testMemory = testMemory
        self.workers = workers
        self.vcpuStats = boxes
        for worker in workers { worker.start() }
        // The start barrier: every vCPU thread exists, has applied its placement and is parked on
        // its semaphore before init returns, so thread start-up never overlaps a timed pass.
        awaitWorkersStarted()
        if placement.plan != nil {
            if let failed = workers.first(where: { $0.startup.pinError != 0 }) {
                throw PlacementFailed("pinning vCPU \(failed.index) to CPU \(failed.pinCPU ?? -1) failed: \(String(cString: strerror(failed.startup.pinError)))")
            }
        }
    }

    /// Waits until every vCPU thread has applied its placement and read it back.
    private func awaitWorkersStarted() {
        guard !workersStarted else { return }
        for worker in workers { worker.started.wait() }
        workersStarted = true
    }

    /// The pinning plan of `--pin` (nil for `--pin none`).
    public var pinPlan: PinPlan? { placement.plan }

    /// Each vCPU thread's CPU affinity as sched_getaffinity reported it once the thread had
    /// applied its placement (nil if the call failed).
    public func vcpuAffinities() -> [[Int]?] {
        awaitWorkersStarted()
        return workers.map(\.startup.affinity)
    }

    /// The kernel thread id of each vCPU thread (for /proc/self/task/<tid>).
    public func vcpuThreadIDs() -> [Int32] {
        awaitWorkersStarted()
        return workers.map(\.startup.threadID)
    }

    /// What the placement turned out to be: vCPU affinities read back, and where a sample of the
    /// test memory's pages are now (move_pages). Call after the passes.
    public func placementReport() -> PlacementReport {
        placement.report(vcpuAffinities: vcpuAffinities(), memory: testMemory)
    }

    deinit {
        if configuration.pin != .none || configuration.numa != nil { context.record(placementReport()) }
        for worker in workers {
            worker.command = .exit
            worker.go.signal()
        }
        // Bounded: a vCPU the watchdog could not free is left behind rather than hanging the run.
        let deadline = DispatchTime.now() + .seconds(10)
        for _ in workers {
            if done.wait(timeout: deadline) == .timedOut { break }
        }
    }

    /// Splits the test memory into `slots` memslots at multiples of the backing's page size.
    static func splitIntoSlots(configuration: GuestConfiguration, layout: GuestLayout, hostAddress: UInt) -> [Memslot] {
        let unit = max(configuration.backing.pageSize, 4096)
        let units = layout.testSize / unit
        let count = UInt64(max(1, min(configuration.slots, Int(units))))
        let perSlot = units / count
        var slots: [Memslot] = []
        slots.reserveCapacity(Int(count))
        var offset: UInt64 = 0
        for index in 0..<count {
            let size = index == count - 1 ? layout.testSize - offset : perSlot * unit
            slots.append(Memslot(id: UInt32(index + 1), guestPhysicalAddress: layout.testBase + offset, size: size,
                                 hostAddress: hostAddress + UInt(offset)))
            offset += size
        }
        return slots
    }

    static func load(_ state: VCPUEntryState, into vcpu: borrowing VCPU) throws {
        try vcpu.load(VCPUState(
            cr0: state.cr0, cr3: state.cr3, cr4: state.cr4, efer: state.efer,
            gdt: .init(base: state.gdtBase, limit: state.gdtLimit), idt: .init(base: state.idtBase, limit: state.idtLimit),
            code: segment(state.code), data: segment(state.data), taskRegister: segment(state.taskRegister),
            rip: state.rip, rsp: state.rsp, rflags: state.rflags, r15: state.parameterBlock, r8: state.seed))
    }

    static func segment(_ s: SegmentState) -> VCPUState.Segment {
        VCPUState.Segment(base: s.base, limit: s.limit, selector: s.selector, type: s.type, present: s.present,
                          dpl: s.dpl, db: s.db, system: s.system, long: s.long, granularity: s.granularity)
    }

    public var vcpuCount: Int { workers.count }

    // MARK: Workload control

    /// The host's view of vCPU `index`'s parameter block.
    func parameterBlock(_ index: Int) -> UnsafeMutableRawPointer {
        systemMemory.base + Int(layout.parameterBlockAddress(vcpu: index))
    }

    /// Rewrites vCPU `index`'s workload (or any guest program's parameters); takes effect at its next pass.
    public func setWorkload(_ index: Int, _ workload: some GuestParameterBlock) {
        workload.store(into: parameterBlock(index))
    }

    /// Writes one word of vCPU `index`'s parameter block, which the guest program polls (a stop
    /// word): the guest sees it on its next read of that word.
    public func storeParameterWord(_ value: UInt64, atOffset offset: Int, vcpu index: Int) {
        precondition(offset >= 0 && offset + 8 <= GuestLayout.parameterBlockSize, "parameter word outside the block")
        parameterBlock(index).storeBytes(of: value, toByteOffset: offset, as: UInt64.self)
    }

    /// The workload each vCPU was created with.
    public func defaultWorkload(_ index: Int, token: UInt64 = 1) -> WorkloadParameters {
        Self.defaultWorkload(index, configuration: configuration, layout: layout, token: token)
    }

    /// One pass over vCPU `index`'s region (or the shared one), one access per 4 KiB page.
    static func defaultWorkload(_ index: Int, configuration: GuestConfiguration, layout: GuestLayout,
                                token: UInt64 = 1) -> WorkloadParameters {
        let perVCPU = configuration.memoryPerVCPU
        let base = layout.testBase + (configuration.sharedRegion ? 0 : UInt64(index) * perVCPU)
        return WorkloadParameters(base: base, accesses: perVCPU / 4096, stride: 4096,
                                  writePercent: configuration.writePercent, random: configuration.access == .random,
                                  targets: perVCPU / 4096, token: token)
    }

    /// Sets the token every write of the next pass stores (scenarios use the pass number).
    public func setToken(_ token: UInt64) {
        for index in 0..<workers.count { WorkloadParameters.storeToken(token, into: parameterBlock(index)) }
    }

    /// Releases every vCPU for `count` passes and waits for all. Returns the wall-clock nanoseconds
    /// from release to the last vCPU's finish; per-vCPU times are in `passNanos(vcpu:pass:)`.
    @discardableResult
    public func runPasses(_ count: Int = 1) throws -> UInt64 {
        for worker in workers { worker.command = .passes(count) }
        let started = MonotonicClock.now()
        for worker in workers { worker.go.signal() }
        try waitForAll(activity: "\(count) pass(es)")
        let elapsed = MonotonicClock.now() &- started
        try throwFirstFailure()
        return elapsed
    }

    /// Whether KVM_PRE_FAULT_MEMORY works on this VM, decided before anything is timed: the
    /// capability, then one page of slot 0 (the guest image, which the guest maps anyway) through
    /// vCPU 0. Throws `ScenarioUnsupported` with the reason.
    public func checkPreFaultSupport() throws {
        guard vm.check(.preFaultMemory) > 0 else {
            throw ScenarioUnsupported("--populate pre-fault: KVM_CAP_PRE_FAULT_MEMORY is 0 on this host (kernel 6.10 or later)")
        }
        do { try workers[0].vcpu.preFaultMemory(guestPhysicalAddress: 0, size: 4096) } catch {
            if error.errno == .notSupported || error.errno == .notSupportedOnSocket {
                throw ScenarioUnsupported("--populate pre-fault: KVM_PRE_FAULT_MEMORY answers EOPNOTSUPP on this host: x86 KVM pre-faults only into a two-dimensional (TDP: EPT/NPT) MMU, and this host's KVM uses shadow paging (tdp_mmu=N)")
            }
            throw ScenarioUnsupported("--populate pre-fault: KVM_PRE_FAULT_MEMORY on one page of slot 0 failed: \(error)")
        }
    }

    /// Each vCPU pre-faults its own region of the test memory (KVM_PRE_FAULT_MEMORY through its
    /// own fd, on its own thread, released together); with a shared region the vCPUs split it.
    /// Returns the wall-clock nanoseconds; per-vCPU times are in `passNanos(vcpu:)`.
    @discardableResult
    public func preFaultTestMemory() throws -> UInt64 {
        let count = UInt64(workers.count)
        for (index, worker) in workers.enumerated() {
            if configuration.sharedRegion {
                let share = (configuration.memoryPerVCPU / count) & ~4095
                let start = layout.testBase + UInt64(index) * share
                let size = index == workers.count - 1 ? configuration.memoryPerVCPU - UInt64(index) * share : share
                worker.command = .preFault(start: start, size: size)
            } else {
                worker.command = .preFault(start: layout.testBase + UInt64(index) * configuration.memoryPerVCPU, size: configuration.memoryPerVCPU)
            }
        }
        let started = MonotonicClock.now()
        for worker in workers { worker.go.signal() }
        try waitForAll(activity: "KVM_PRE_FAULT_MEMORY")
        let elapsed = MonotonicClock.now() &- started
        try throwFirstFailure()
        return elapsed
    }

    /// True when every vCPU thread has started, applied its placement and parked (the start
    /// barrier `init` waits for); reads without waiting.
    public var vcpuThreadsParked: Bool { workers.allSatisfy { $0.startup.threadID != 0 && $0.isParked } }

    /// The watchdog: waits for every released worker, but no longer than the configuration's
    /// timeout without progress of some vCPU. A vCPU makes progress when its guest bumps the
    /// progress counter in its parameter block (the workload does every few hundred accesses)
    /// or when it takes an exit; one that does neither for the timeout is stuck: every vCPU is
    /// kicked out of KVM_RUN (immediate_exit plus a signal to its thread) and the run fails with
    /// what it was doing.
    private func waitForAll(activity: String) throws {
        var finished = 0
        let limit = context.timeoutSeconds
        var lastProgress = workers.map { progressMarker($0) }
        var idleSince = [UInt64](repeating: MonotonicClock.now(), count: workers.count)
        while finished < workers.count {
            if done.wait(timeout: .now() + .milliseconds(250)) == .success {
                finished += 1
                continue
            }
            let now = MonotonicClock.now()
            var stuck: [Int] = []
            for (index, worker) in workers.enumerated() {
                let marker = progressMarker(worker)
                if marker != lastProgress[index] || worker.isParked {
                    lastProgress[index] = marker
                    idleSince[index] = now
                } else if Double(now &- idleSince[index]) / 1e9 >= limit {
                    stuck.append(index)
                }
            }
            guard !stuck.isEmpty else { continue }
            for worker in workers {
                worker.stopRequested.store(true, ordering: .releasing)
                worker.kick()
            }
            // Give kicked vCPUs a moment to leave KVM_RUN; a vCPU stuck in the kernel is left behind.
            let deadline = DispatchTime.now() + .seconds(5)
            while finished < workers.count, done.wait(timeout: deadline) == .success { finished += 1 }
            throw WatchdogTimeout(seconds: limit, activity: activity, stuckVCPUs: stuck,
                                  passesCompleted: workers.map(\.passesRun),
                                  leftBehind: workers.filter { !$0.isParked }.map(\.index))
        }
    }

    /// Changes whenever the vCPU takes an exit or its guest bumps its progress counter.
    private func progressMarker(_ worker: VCPUWorker) -> UInt64 {
        UInt64(bitPattern: Int64(worker.progress.load(ordering: .relaxed))) &+ guestProgress(vcpu: worker.index)
    }

    /// vCPU `index`'s guest progress counter (the workload's, bumped every
    /// `WorkloadParameters.progressInterval` accesses), read while the guest may write it.
    public func guestProgress(vcpu index: Int) -> UInt64 {
        // The block lies in the system region, mapped for the VM's lifetime; an aligned 8-byte
        // load sees either the old or the new count, and the call keeps it from being hoisted.
        UnsafeRawPointer(parameterBlock(index)).load(fromByteOffset: WorkloadParameters.progressOffset, as: UInt64.self)
    }

    /// Releases every vCPU for `count` passes and returns at once, so the host can work while the
    /// guest runs; `finishPasses()` waits for them.
    public func beginPasses(_ count: Int = 1) {
        for worker in workers { worker.command = .passes(count) }
        passesStarted = MonotonicClock.now()
        for worker in workers { worker.go.signal() }
    }

    /// Waits for the passes `beginPasses` released; returns the nanoseconds since the release.
    @discardableResult
    public func finishPasses() throws -> UInt64 {
        try waitForAll(activity: "passes")
        let elapsed = MonotonicClock.now() &- passesStarted
        try throwFirstFailure()
        return elapsed
    }

    /// Changes only the start address of vCPU `index`'s workload (no allocation; between passes).
    public func setWorkloadBase(_ base: UInt64, vcpu index: Int) {
        parameterBlock(index).storeBytes(of: base, toByteOffset: 0, as: UInt64.self)
    }

    /// Releases every vCPU to run passes until `stop()`; returns at once.
    /// `passTokenTag`: every pass of vCPU i writes the token `passTokenTag | i << 32 | pass number`
    /// (from 1) instead of the block's token, so the host can tell one pass's writes from the next's.
    public func startContinuous(passTokenTag: UInt64? = nil) {
        for worker in workers {
            worker.passTokens = passTokenTag.map { (parameterBlock(worker.index), $0 | UInt64(worker.index) << 32) }
            worker.stopRequested.store(false, ordering: .releasing)
            worker.livePasses.store(0, ordering: .releasing)
            worker.command = .untilStopped
            worker.go.signal()
        }
    }

    /// Passes completed so far by all vCPUs in continuous mode.
    public var continuousPasses: Int { workers.reduce(0) { $0 + $1.livePasses.load(ordering: .acquiring) } }

    /// Stops continuous mode at the end of each vCPU's current pass and waits for all.
    public func stop() throws {
        for worker in workers { worker.stopRequested.store(true, ordering: .releasing) }
        try waitForAll(activity: "continuous passes")
        try throwFirstFailure()
    }

    private func throwFirstFailure() throws {
        if let failure = workers.lazy.compactMap(\.failure).first { throw failure }
    }

    public func passNanos(vcpu: Int, pass: Int = 0) -> UInt64 { workers[vcpu].passNanos[pass] }
    /// Exits to userspace vCPU `index` has taken so far (every kind, sync exits included).
    public func exits(vcpu index: Int) -> Int { workers[index].progress.load(ordering: .relaxed) }
    public func passesRun(vcpu: Int) -> Int { workers[vcpu].passesRun }

    /// Rewrites vCPU `index`'s parameter block for `ReadBackProgram` (a VM built with its code).
    public func setReadBackWorkload(_ index: Int, _ workload: ReadBackWorkload) {
        workload.store(into: parameterBlock(index))
    }

    /// Lets KVM_RUN fail with EFAULT and retries it (memory made read-only or unmapped for a moment).
    public func retryFaults(_ retry: Bool) { for worker in workers { worker.retryFaults = retry } }
    public var faultRetries: Int { workers.reduce(0) { $0 + $1.faultRetries } }
    /// The same, readable while the vCPUs run (relaxed: a lower bound).
    public var faultRetriesSoFar: Int { workers.reduce(0) { $0 + $1.liveFaultRetries.load(ordering: .relaxed) } }

    /// Lets vCPUs take MMIO exits (accesses to guest-physical holes) without failing.
    public func allowMMIOExits(_ allow: Bool) { for worker in workers { worker.allowMMIO = allow } }
    public var mmioExits: Int { workers.reduce(0) { $0 + $1.mmioExits } }
    public var dirtyRingFullExits: Int { workers.reduce(0) { $0 + $1.dirtyRingFullExits } }

    /// Installs the handler vCPU threads call on KVM_EXIT_DIRTY_RING_FULL.
    public func onDirtyRingFull(_ handler: @escaping @Sendable (Int) -> Void) {
        for worker in workers { worker.onDirtyRingFull = handler }
    }

    /// vCPU `index`'s dirty ring (its mapping and fetch index), for the one harvester of that
    /// ring: the returned value is the state that advances from here on; the harness never
    /// harvests the ring itself. Nil when the VM was built without a dirty ring.
    public func dirtyRing(vcpu index: Int) -> DirtyRing? { workers[index].vcpu.dirtyRing }

    // MARK: Memslots

    /// KVM_SET_USER_MEMORY_REGION of `slot` (create, flags change or move), recorded in the slot
    /// table: a test slot's entry in `slots`, any other in `otherSlots`.
    public func setMemslot(_ slot: Memslot) throws(KVMError) {
        try vm.setMemslot(slot)
        if let index = testSlotIndex(slot.id) {
            slots[index] = slot
            testSlotInstalled[index] = true
        } else if let index = otherSlots.firstIndex(where: { $0.id == slot.id }) {
            otherSlots[index] = slot
        } else {
            otherSlots.append(slot)
        }
    }

    /// Deletes slot `id` from KVM and from the slot table (a test slot keeps its entry in `slots`,
    /// marked not installed, so it can be set again).
    public func deleteMemslot(id: UInt32) throws(KVMError) {
        try vm.deleteMemslot(id: id)
        if let index = testSlotIndex(id) {
            testSlotInstalled[index] = false
        } else if let index = otherSlots.firstIndex(where: { $0.id == id }) {
            otherSlots.remove(at: index)
        }
    }

    /// Moves `slot` to `guestPhysicalAddress` in place (KVM_MR_MOVE; some hosts refuse with EINVAL).
    public func moveMemslot(_ slot: Memslot, to guestPhysicalAddress: UInt64) throws(KVMError) {
        var moved = slot
        moved.guestPhysicalAddress = guestPhysicalAddress
        try setMemslot(moved)
    }

    /// Changes the flags of test slot `index` (KVM_MR_FLAGS_ONLY), keeping its range.
    public func setTestSlotFlags(_ index: Int, _ flags: MemslotFlags) throws(KVMError) {
        var changed = slots[index]
        changed.flags = flags
        try setMemslot(changed)
    }

    /// Whether test slot `index` is in KVM.
    public func isTestSlotInstalled(_ index: Int) -> Bool { testSlotInstalled[index] }

    @inline(__always)
    private func testSlotIndex(_ id: UInt32) -> Int? {
        let index = Int(id) - 1
        return index >= 0 && index < slots.count && slots[index].id == id ? index : nil
    }

    // MARK: Dirty logging

    /// KVM_GET_DIRTY_LOG of slot `slot` into `bitmap` (see `VirtualMachine.getDirtyLog`), which
    /// must cover the slot's pages. `slot` is one of this guest's memslots (a test slot or one of
    /// `otherSlots`): its size comes from the memslot table, so KVM never writes past the bitmap.
    /// Allocates nothing (a caller may time it).
    public func getDirtyLog(slot: UInt32, into bitmap: DirtyBitmap) throws(KVMError) {
        try vm.getDirtyLog(of: installedSlot(slot), into: bitmap)
    }

    /// KVM_CLEAR_DIRTY_LOG with `bitmap`'s bits (see `VirtualMachine.clearDirtyLog`).
    public func clearDirtyLog(slot: UInt32, firstPage: UInt64, pageCount: UInt32, bitmap: DirtyBitmap) throws(KVMError) {
        try vm.clearDirtyLog(slot: slot, firstPage: firstPage, pageCount: pageCount, bitmap: bitmap)
    }

    /// The memslot table's record of slot `id`, as KVM has it.
    private func installedSlot(_ id: UInt32) -> Memslot {
        if let index = testSlotIndex(id) { return slots[index] }
        guard let other = otherSlots.first(where: { $0.id == id }) else {
            preconditionFailure("slot \(id) is not one of this guest's memslots")
        }
        return other
    }

    /// KVM_RESET_DIRTY_RINGS.
    @discardableResult
    public func resetDirtyRings() throws(KVMError) -> Int { try vm.resetDirtyRings() }

    /// KVM_RESET_DIRTY_RINGS for vCPU threads' ring-full handlers; valid while this guest lives.
    public var dirtyRingResetter: DirtyRingResetter { vm.dirtyRingResetter }

    /// Gives KVM the test memslots a `deferTestSlots` VM has not created yet, in guest-physical
    /// order. The slot array was built in `init`, so the loop is only the KVM_SET_USER_MEMORY_REGION
    /// calls (their arguments live on the stack): a caller may time it.
    public func addTestSlots() throws(KVMError) {
        while testSlotsAdded < slots.count {
            try vm.setMemslot(slots[testSlotsAdded])
            testSlotInstalled[testSlotsAdded] = true
            testSlotsAdded += 1
        }
    }

    // MARK: Statistics

    /// A reading of the VM's and every vCPU's binary stats.
    public struct StatsReading {
        var vm: StatsSnapshot?
        var vcpus: [StatsSnapshot?]
    }

    public func readStats() -> StatsReading {
        StatsReading(vm: try? vmStats?.read(), vcpus: vcpuStats.map { try? $0.stats?.read() })
    }

    /// The VM's and every vCPU's stats over an interval, each read by its type: cumulative
    /// counters and histogram buckets summed over vCPUs, instant values summed at both ends,
    /// peaks as the highest of any vCPU (KVM_STATS_TYPE_PEAK values are maxima, never deltas).
    public func statsReport(from before: StatsReading, to after: StatsReading) -> KVMStatsReport {
        var report = KVMStatsReport()
        func add(_ typed: [String: TypedStat]) {
            for (name, stat) in typed { report.add(name, stat) }
        }
        for (index, box) in vcpuStats.enumerated() {
            guard let b = before.vcpus[index], let a = after.vcpus[index], let typed = box.stats?.typed(from: b, to: a) else { continue }
            add(typed)
        }
        if let b = before.vm, let a = after.vm, let typed = vmStats?.typed(from: b, to: a) {
            // A VM stat of the same name as a vCPU stat replaces it (as before).
            for name in typed.keys { report.remove(name) }
            add(typed)
        }
        return report
    }

    /// One number per stat (see `KVMStatsReport.values`): cumulative and histogram totals as
    /// deltas summed over vCPUs, instant values as after - before, peaks as the maximum over vCPUs.
    public func statsDeltas(from before: StatsReading, to after: StatsReading) -> [String: Int64] {
        statsReport(from: before, to: after).values
    }

    /// Every stat's type as `statsReport` names it ("cumulative", "instant", "peak", ...).
    public var statTypes: [String: String] {
        var out: [String: String] = [:]
        for box in vcpuStats { for descriptor in box.stats?.descriptors ?? [] { out[descriptor.name] = descriptor.kind.rawValue } }
        for descriptor in vmStats?.descriptors ?? [] { out[descriptor.name] = descriptor.kind.rawValue }
        return out
    }

    /// Current values of the VM-wide stats (pages_4k, pages_2m, ...).
    public func vmStatValues() -> [String: UInt64] {
        guard let snapshot = try? vmStats?.read() else { return [:] }
        return vmStats?.values(snapshot) ?? [:]
    }
}

/// A vCPU made no progress for the configured time: it was stopped and its case fails.
public struct WatchdogTimeout: Error, CustomStringConvertible, Sendable {
    public var seconds: Double
    public var activity: String
    public var stuckVCPUs: [Int]
    public var passesCompleted: [Int]
    /// vCPUs still inside KVM_RUN after the kick (their threads are abandoned).
    public var leftBehind: [Int]
    public var description: String {
        "watchdog: no progress for \(seconds) s while running \(activity); stuck vCPU(s) \(stuckVCPUs.map(String.init).joined(separator: ", ")), passes completed per vCPU \(passesCompleted)"
            + (leftBehind.isEmpty ? "" : "; vCPU(s) \(leftBehind) did not leave KVM_RUN")
    }
}

/// Holds an optional stats fd so it can live in an array.
final class StatsBox {
    var stats: BinaryStats?
    init(stats: consuming BinaryStats?) { self.stats = stats }
}

/// KVM's binary stats over an interval, summed over vCPUs by type (see `GuestVM.statsReport`).
public struct KVMStatsReport: Sendable, Equatable {
    /// Name -> "cumulative", "instant", "peak", "linear-hist" or "log-hist".
    public var types: [String: String] = [:]
    public var cumulative: [String: Int64] = [:]
    public var instant: [String: (before: Int64, after: Int64)] = [:]
    public var peaks: [String: Int64] = [:]
    public var histograms: [String: [Int64]] = [:]

    public init() {}

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.types == rhs.types && lhs.cumulative == rhs.cumulative && lhs.peaks == rhs.peaks && lhs.histograms == rhs.histograms
            && lhs.instant.mapValues { [$0.before, $0.after] } == rhs.instant.mapValues { [$0.before, $0.after] }
    }

    mutating func add(_ name: String, _ stat: TypedStat) {
        switch stat {
        case .cumulative(let delta):
            types[name] = "cumulative"
            cumulative[name, default: 0] &+= delta
        case .instant(let before, let after):
            types[name] = "instant"
            let old = instant[name] ?? (0, 0)
            instant[name] = (old.before &+ Int64(clamping: before), old.after &+ Int64(clamping: after))
        case .peak(let value):
            types[name] = "peak"
            peaks[name] = max(peaks[name] ?? 0, Int64(clamping: value))
        case .histogram(let kind, let buckets):
            types[name] = kind.rawValue
            var sum = histograms[name] ?? [Int64](repeating: 0, count: buckets.count)
            for (index, value) in buckets.enumerated() where index < sum.count { sum[index] &+= value }
            histograms[name] = sum
        }
    }

    /// Adds the report of a later interval (mmu-stress's storms, one per cycle): cumulative stats
    /// and histogram buckets add up, a peak is the larger of the two, and an instant stat keeps its
    /// first `before` and moves its `after` by the later interval's change, so its value is the
    /// sum of the intervals' changes.
    public mutating func accumulate(_ later: KVMStatsReport) {
        types.merge(later.types) { $1 }
        cumulative.merge(later.cumulative) { $0 &+ $1 }
        for (name, value) in later.instant {
            let change = value.after &- value.before
            instant[name] = instant[name].map { ($0.before, $0.after &+ change) } ?? value
        }
        peaks.merge(later.peaks) { max($0, $1) }
        for (name, buckets) in later.histograms {
            var sum = histograms[name] ?? [Int64](repeating: 0, count: buckets.count)
            for (index, value) in buckets.enumerated() where index < sum.count { sum[index] &+= value }
            histograms[name] = sum
        }
    }

    mutating func remove(_ name: String) {
        types[name] = nil; cumulative[name] = nil; instant[name] = nil; peaks[name] = nil; histograms[name] = nil
    }

    /// One number per stat: cumulative deltas, instant after - before, peaks, histogram totals.
    public var values: [String: Int64] {
        var out = cumulative
        for (name, value) in instant { out[name] = value.after &- value.before }
        for (name, value) in peaks { out[name] = value }
        for (name, buckets) in histograms { out[name] = buckets.reduce(0, &+) }
        return out
    }
}

/// What kvmbench needs from the host for `--backing guest-memfd`, checked before any VM exists.
public enum GuestMemfdSupport {
    /// A guest_memfd the host can mmap, whose memory starts shared: a VM without private memory
    /// (type 0) can run from it, and KVM faults it through guest_memfd.
    public static let flags: GuestMemfdFlags = [.mmap, .initShared]

    /// Throws `ScenarioUnsupported` with the missing capability.
    public static func check(_ kvm: borrowing KVMSystem) throws(ScenarioUnsupported) {
        if kvm.check(.userMemory2) <= 0 {
            throw ScenarioUnsupported("guest-memfd needs KVM_SET_USER_MEMORY_REGION2: KVM_CAP_USER_MEMORY2 is 0 on this host (kernel 6.8 or later)")
        }
        if kvm.check(.guestMemfd) <= 0 {
            throw ScenarioUnsupported("guest-memfd: KVM_CAP_GUEST_MEMFD is 0 on this host (kernel 6.8 or later, CONFIG_KVM_GUEST_MEMFD)")
        }
        let accepted = UInt64(kvm.check(.guestMemfdFlags))
        if accepted & flags.rawValue != flags.rawValue {
            throw ScenarioUnsupported("guest-memfd needs flags MMAP | INIT_SHARED (\(hex(flags.rawValue))) for a VM without private memory; KVM_CAP_GUEST_MEMFD_FLAGS on this host is \(hex(accepted)) (kernel 6.18 or later)")
        }
    }

    /// Why a scenario that logs dirty pages cannot use guest-memfd (KVM refuses
    /// KVM_MEM_LOG_DIRTY_PAGES on KVM_MEM_GUEST_MEMFD slots with EINVAL).
    public static let noDirtyLogging = "KVM refuses dirty logging (KVM_MEM_LOG_DIRTY_PAGES) on guest_memfd slots (KVM_SET_USER_MEMORY_REGION2 fails with EINVAL)"
}
