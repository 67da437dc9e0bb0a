import Backings
import CKVM
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
    let kvm: KVMSystem
    public var vm: VirtualMachine
    let systemMemory: HostMemory
    public let testMemory: HostMemory
    /// The test memslots, in guest-physical order.
    public private(set) var slots: [Memslot]
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
    public init(configuration: GuestConfiguration, maxPasses: Int = 64, dirtyRingEntries: Int = 0,
                deferTestSlots: Bool = false, userCode: [UInt8] = WorkloadProgram.code,
                prepareVM: (borrowing VirtualMachine) throws -> Void = { _ in }) throws {
        self.configuration = configuration
        let layout = GuestLayout(vcpuCount: configuration.vcpus, testSize: configuration.testSize,
                                 guestPageSize: configuration.guestPageSize)
        self.layout = layout
        // Placement before anything is touched: the main thread's CPUs, then the memory policy.
        let placement = try GuestPlacement(configuration: configuration)
        self.placement = placement
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
        GuestImage.write(layout: layout, into: systemMemory.buffer, userCode: userCode)

        let kvm = try KVMSystem()
        if isGuestMemfd { try GuestMemfdSupport.check(kvm) }
        var vm = try kvm.createVM()
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
            guard kvm.check(.dirtyLogRing) > 0 || kvm.check(.dirtyLogRingAcqRel) > 0 else {
                throw ScenarioUnsupported("this host has no dirty ring (KVM_CAP_DIRTY_LOG_RING and _ACQ_REL are 0)")
            }
            try vm.enableDirtyRing(entries: dirtyRingEntries)
        }
        self.dirtyRingEntries = dirtyRingEntries

        try vm.setMemslot(Memslot(id: 0, guestPhysicalAddress: 0, size: layout.systemSize, hostAddress: systemMemory.address))
        slots = Self.splitIntoSlots(configuration: configuration, layout: layout, hostAddress: testMemory.address)
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

        let cpuid = try kvm.supportedCPUID()
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
        self.kvm = kvm
        self.vm = vm
        self.systemMemory = systemMemory
        self.testMemory = testMemory
        self.workers = workers
        self.vcpuStats = boxes
        for worker in workers { worker.start() }
        if placement.plan != nil {
            awaitWorkersStarted()
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
        if configuration.pin != .none || configuration.numa != nil { PlacementLog.record(placementReport()) }
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
        var sregs = try vcpu.specialRegisters()
        sregs.cr0 = state.cr0
        sregs.cr3 = state.cr3
        sregs.cr4 = state.cr4
        sregs.efer = state.efer
        sregs.gdt.base = state.gdtBase
        sregs.gdt.limit = state.gdtLimit
        sregs.idt.base = state.idtBase
        sregs.idt.limit = state.idtLimit
        sregs.cs = kvmSegment(state.code)
        let data = kvmSegment(state.data)
        sregs.ds = data; sregs.es = data; sregs.fs = data; sregs.gs = data; sregs.ss = data
        sregs.tr = kvmSegment(state.taskRegister)
        try vcpu.setSpecialRegisters(sregs)
        var regs = kvm_regs()
        regs.rip = state.rip
        regs.rsp = state.rsp
        regs.rflags = state.rflags
        regs.r15 = state.parameterBlock
        regs.r8 = state.seed
        try vcpu.setRegisters(regs)
    }

    static func kvmSegment(_ s: SegmentState) -> kvm_segment {
        kvm_segment(base: s.base, limit: s.limit, selector: s.selector, type: s.type, present: s.present ? 1 : 0,
                    dpl: s.dpl, db: s.db ? 1 : 0, s: s.system ? 1 : 0, l: s.long ? 1 : 0, g: s.granularity ? 1 : 0,
                    avl: 0, unusable: 0, padding: 0)
    }

    public var vcpuCount: Int { workers.count }

    // MARK: Workload control

    /// The host's view of vCPU `index`'s parameter block.
    func parameterBlock(_ index: Int) -> UnsafeMutableRawPointer {
        systemMemory.base + Int(layout.parameterBlockAddress(vcpu: index))
    }

    /// Rewrites vCPU `index`'s workload; takes effect at its next pass.
    public func setWorkload(_ index: Int, _ workload: WorkloadParameters) {
        workload.store(into: parameterBlock(index))
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
        let started = monotonicNanos()
        for worker in workers { worker.go.signal() }
        try waitForAll(activity: "\(count) pass(es)")
        let elapsed = monotonicNanos() &- started
        try throwFirstFailure()
        return elapsed
    }

    /// The watchdog: waits for every released worker, but no longer than the configuration's
    /// timeout without progress. A vCPU that made no progress is kicked out of KVM_RUN
    /// (immediate_exit plus a signal to its thread) and the run fails with what it was doing.
    private func waitForAll(activity: String) throws {
        var finished = 0
        let limit = configuration.timeoutSeconds
        var lastProgress = progressMarker()
        var idleSince = monotonicNanos()
        while finished < workers.count {
            if done.wait(timeout: .now() + .milliseconds(250)) == .success {
                finished += 1
                continue
            }
            let marker = progressMarker()
            if marker != lastProgress {
                lastProgress = marker
                idleSince = monotonicNanos()
                continue
            }
            guard Double(monotonicNanos() &- idleSince) / 1e9 >= limit else { continue }
            let stuck = workers.filter { !$0.isParked }.map(\.index)
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

    /// Changes whenever any vCPU finishes a pass or takes an exit.
    private func progressMarker() -> Int { workers.reduce(0) { $0 &+ $1.progress.load(ordering: .relaxed) } }

    /// Releases every vCPU for `count` passes and returns at once, so the host can work while the
    /// guest runs; `finishPasses()` waits for them.
    public func beginPasses(_ count: Int = 1) {
        for worker in workers { worker.command = .passes(count) }
        passesStarted = monotonicNanos()
        for worker in workers { worker.go.signal() }
    }

    /// Waits for the passes `beginPasses` released; returns the nanoseconds since the release.
    @discardableResult
    public func finishPasses() throws -> UInt64 {
        for _ in workers { done.wait() }
        let elapsed = monotonicNanos() &- passesStarted
        try throwFirstFailure()
        return elapsed
    }

    /// Changes only the start address of vCPU `index`'s workload (no allocation; between passes).
    public func setWorkloadBase(_ base: UInt64, vcpu index: Int) {
        parameterBlock(index).storeBytes(of: base, toByteOffset: 0, as: UInt64.self)
    }

    /// Releases every vCPU to run passes until `stop()`; returns at once.
    public func startContinuous() {
        for worker in workers {
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

    /// Replaces the recorded slot `index` (after the scenario changed it in KVM).
    public func updateSlot(_ index: Int, _ slot: Memslot) { slots[index] = slot }

    /// Gives KVM the test memslots a `deferTestSlots` VM has not created yet, in guest-physical
    /// order. The slot array was built in `init`, so the loop is only the KVM_SET_USER_MEMORY_REGION
    /// calls (their arguments live on the stack): a caller may time it.
    public func addTestSlots() throws(KVMError) {
        while testSlotsAdded < slots.count {
            try vm.setMemslot(slots[testSlotsAdded])
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

    /// Deltas of the VM stats plus the sum over vCPUs of the vCPU stats.
    public func statsDeltas(from before: StatsReading, to after: StatsReading) -> [String: Int64] {
        var out: [String: Int64] = [:]
        for (index, box) in vcpuStats.enumerated() {
            guard let b = before.vcpus[index], let a = after.vcpus[index], let deltas = box.stats?.deltas(from: b, to: a) else { continue }
            for (name, value) in deltas { out[name, default: 0] += value }
        }
        if let b = before.vm, let a = after.vm, let deltas = vmStats?.deltas(from: b, to: a) {
            for (name, value) in deltas { out[name] = value }
        }
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
