import Parameters
import Dispatch
import Foundation
import Glibc
import GuestPrograms
import Host
import KVM
import Synchronization

/// What a vCPU thread does when it is released.
enum WorkerCommand: Sendable {
    /// Run `count` passes of the workload and time each one.
    case passes(Int)
    /// Run passes until the harness sets `stopRequested`, counting them.
    case untilStopped
    /// KVM_PRE_FAULT_MEMORY of `size` bytes from guest-physical `start` through this vCPU, timed.
    case preFault(start: UInt64, size: UInt64)
    /// Leave the thread.
    case exit
}

/// One host thread that owns one vCPU and runs it, as the kernel selftests' memstress does.
///
/// The thread is created with the VM and parks on `go`; the harness releases every worker, then
/// waits on `done`. The timed region is the KVM_RUN loop of one pass, bracketed by two reads of
/// the monotonic clock: no allocation, locking or printing happens inside it.
///
/// SAFETY (`@unchecked Sendable`): the mutable fields are written by the worker thread only
/// between `go.wait()` and `done.signal()`, and read by the harness only after `done.wait()`;
/// the semaphores order those accesses. `stopRequested` is atomic.
final class VCPUWorker: @unchecked Sendable {
    let index: Int
    var vcpu: VCPU
    let go = DispatchSemaphore(value: 0)
    let done: DispatchSemaphore
    var command: WorkerCommand = .passes(1)
    /// Nanoseconds of each pass of the last command (preallocated to `maxPasses`).
    var passNanos: [UInt64]
    var passesRun = 0
    var failure: Error?
    /// MMIO exits are allowed (and counted) when the scenario moves memslots under a running guest.
    var allowMMIO = false
    var mmioExits = 0
    var dirtyRingFullExits = 0
    /// KVM_RUN failing with EFAULT is retried (and counted) instead of failing the pass: the host
    /// has made the memory read-only or unmapped it for a moment (mmu-stress). An EFAULT seen
    /// while a stop is requested is retried too, a few times: the vCPU thread may have met the
    /// storm's last read-only moment, then lost its CPU until the harness, the storm over and the
    /// memory writable again, asked it to stop (seen once in four nightly runs on a 2-core host).
    var retryFaults = false
    /// Retries of EFAULT allowed after a stop was requested, before it counts as a failure.
    static let faultRetriesWhileStopping = 16
    var faultRetries = 0
    let liveFaultRetries = Atomic<Int>(0)
    /// Called on the worker thread when KVM_EXIT_DIRTY_RING_FULL arrives; must make room and return.
    var onDirtyRingFull: (@Sendable (Int) -> Void)?
    let stopRequested = Atomic<Bool>(false)
    /// `.untilStopped` with per-pass tokens: before each pass the worker stores `tag | pass number`
    /// (from 1) as the token in this parameter block, so every pass writes a token of its own.
    /// Set by the harness before `go`, like `command`.
    var passTokens: (block: UnsafeMutableRawPointer, tag: UInt64)?
    /// Passes completed so far while running `.untilStopped` (read by the harness while running).
    let livePasses = Atomic<Int>(0)
    /// Bumped on every exit the worker handles: the watchdog's sign of life.
    let progress = Atomic<Int>(0)
    /// True while the worker waits for a command.
    var isParked: Bool { parked.load(ordering: .acquiring) }
    private let parked = Atomic<Bool>(true)
    /// `--pin`: the CPU this thread restricts itself to when it starts (nil: left to the scheduler).
    var pinCPU: Int?
    /// Signalled once the thread has applied its placement and read it back (`startup`).
    let started = DispatchSemaphore(value: 0)
    /// The thread's kernel id, its CPU affinity as the kernel reports it after start-up, and the
    /// errno of a failed pin (0 when none failed). Written before `started` is signalled, read after.
    private(set) var startup: (threadID: Int32, affinity: [Int]?, pinError: Int32) = (0, nil, 0)
    /// The worker's pthread, for the watchdog's kick.
    private let threadID = Mutex<pthread_t?>(nil)

    init(index: Int, vcpu: consuming VCPU, done: DispatchSemaphore, maxPasses: Int) {
        self.index = index
        self.vcpu = vcpu
        self.done = done
        passNanos = [UInt64](repeating: 0, count: maxPasses)
        kicker = self.vcpu.kicker
        VCPUKicker.installSignalHandler()
    }

    func start() {
        // The worker keeps no reference to its Thread, and the block holds the worker weakly: a
        // Thread keeps its block, so worker -> Thread -> block -> worker was a cycle that kept the
        // vCPU fd, and with it the whole VM in the kernel, alive until the process exited.
        // `loop()` holds `self` for as long as it runs.
        let thread = Thread { [weak self] in self?.loop() }
        thread.name = "vcpu-\(index)"
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Forces the vCPU out of KVM_RUN: sets immediate_exit (for the next entry) and signals the
    /// thread (for the current one); KVM_RUN then returns EINTR.
    func kick() {
        // The kicker is only used while the worker, which owns the VCPU, exists (see VCPU.kicker).
        if let id = threadID.withLock({ $0 }) { kicker.kick(thread: id) } else { kicker.requestImmediateExit() }
    }

    private let kicker: VCPUKicker

    private func loop() {
        let thread = VCPUKicker.acceptKicksOnThisThread()
        threadID.withLock { $0 = thread }
        // Placement before the first park: outside every timed region.
        let pinError = pinCPU.map { Placement.setAffinity(to: [$0]) } ?? 0
        startup = (Placement.currentThreadID(), Placement.affinity(), pinError)
        started.signal()
        while true {
            go.wait()
            parked.store(false, ordering: .releasing)
            switch command {
            case .exit:
                parked.store(true, ordering: .releasing)
                done.signal()
                return
            case .passes(let count):
                passesRun = 0
                failure = nil
                for pass in 0..<count {
                    let started = MonotonicClock.now()
                    if let error = runOnePass() { failure = error; break }
                    passNanos[pass] = MonotonicClock.now() &- started
                    passesRun += 1
                }
            case .preFault(let start, let size):
                passesRun = 0
                failure = nil
                let started = MonotonicClock.now()
                do { try vcpu.preFaultMemory(guestPhysicalAddress: start, size: size) } catch { failure = error }
                passNanos[0] = MonotonicClock.now() &- started
                if failure == nil { passesRun = 1 }
            case .untilStopped:
                passesRun = 0
                failure = nil
                while !stopRequested.load(ordering: .acquiring) {
                    // The guest rereads its block at the start of the pass this KVM_RUN resumes.
                    if let passTokens { WorkloadParameters.storeToken(passTokens.tag | UInt64(passesRun + 1), into: passTokens.block) }
                    if let error = runOnePass() { failure = error; break }
                    passesRun += 1
                    livePasses.store(passesRun, ordering: .releasing)
                }
            }
            parked.store(true, ordering: .releasing)
            done.signal()
        }
    }

    /// KVM_RUN until the workload's sync exit. Returns the failure instead of throwing so the
    /// loop stays free of error boxing on the success path.
    @inline(__always)
    private func runOnePass() -> Error? {
        var retriesWhileStopping = 0
        while true {
            let exit: VCPUExit
            do { exit = try vcpu.run() } catch {
                guard retryFaults, error.errno == .badAddress else { return error }
                if stopRequested.load(ordering: .acquiring) {
                    retriesWhileStopping += 1
                    if retriesWhileStopping > Self.faultRetriesWhileStopping { return error }
                }
                faultRetries += 1
                liveFaultRetries.add(1, ordering: .relaxed)
                progress.add(1, ordering: .relaxed)
                sched_yield()
                continue
            }
            progress.add(1, ordering: .relaxed)
            switch exit {
            case .io(let port, true, _, _, _) where port == GuestLayout.syncPort:
                return nil
            case .io(let port, true, _, _, _) where port == ReadBackProgram.mismatchPort:
                let registers = try? vcpu.registers()
                return ReadBackMismatch(vcpu: index, guestAddress: registers?.rdi ?? 0, read: registers?.rbx ?? 0,
                                        expected: registers?.rax ?? 0)
            case .mmio where allowMMIO:
                mmioExits += 1
            case .dirtyRingFull:
                dirtyRingFullExits += 1
                guard let handler = onDirtyRingFull else {
                    return GuestFailure(vcpu: index, exit: exit, registers: vcpu.registerSummary(), detail: "dirty ring full and no harvester")
                }
                handler(index)
            case .interrupted:
                if stopRequested.load(ordering: .acquiring) {
                    return GuestFailure(vcpu: index, exit: exit, registers: vcpu.registerSummary(), detail: "stopped by the watchdog")
                }
            case .shutdown where HostPaging.current.module == "kvm_amd":
                // svm.c shutdown_interception: "VMCB is undefined after a SHUTDOWN intercept", so
                // kvm_amd INITs the vCPU before KVM_RUN returns.
                return GuestFailure(vcpu: index, exit: exit, registers: vcpu.registerSummary(),
                                    detail: "kvm_amd re-initialises a vCPU that shut down: the registers below are its reset state, not the fault's")
            default:
                return GuestFailure(vcpu: index, exit: exit, registers: vcpu.registerSummary())
            }
        }
    }
}

/// The guest read back a value other than the one it last wrote (or a non-zero value where the
/// host discarded the memory): a mapping KVM should have invalidated, or lost data.
public struct ReadBackMismatch: Error, CustomStringConvertible, Sendable {
    public var vcpu: Int
    public var guestAddress: UInt64
    public var read: UInt64
    public var expected: UInt64

    /// The read-back program reports the address in rdi, the value read in rbx, the one expected in rax.
    init(vcpu: Int, guestAddress: UInt64, read: UInt64, expected: UInt64) {
        self.vcpu = vcpu
        self.guestAddress = guestAddress
        self.read = read
        self.expected = expected
    }

    public var description: String {
        "read-back check failed: vCPU \(vcpu) read \(hex(read)) at guest address \(hex(guestAddress)), expected \(hex(expected))"
    }
}
