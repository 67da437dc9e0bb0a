import GuestPrograms
import KVM
import Results
import Pipeline
@testable import Harness
@testable import Scenarios
import Testing
import TestSupport
import Foundation

@Suite("watchdog", .enabled(if: KVMSystem.isUsable(), "needs /dev/kvm (readable and writable): skipped"))
struct WatchdogTests {
    @Test func aGuestThatSpinsForeverIsStoppedAndTheNextCaseRuns() throws {
        let configuration = GuestConfiguration(vcpus: 2, memoryPerVCPU: 2 << 20)
        // `jmp $`: no exit ever reaches the host and the guest's progress counter never moves.
        let vm = try GuestVM(configuration: configuration, context: TestHost.context(timeoutSeconds: 1),
                             userCode: WorkloadProgram.spinForever)
        let error = #expect(throws: WatchdogTimeout.self) { try vm.runPasses(1) }
        #expect(error?.stuckVCPUs == [0, 1])
        #expect(error?.leftBehind == []) // the kick brought the spinning vCPU out of KVM_RUN
        #expect(error?.description.contains("no progress for 1.0 s") == true)
        // The next case runs normally.
        let sample = try DemandPagingScenario(guest: GuestConfiguration(vcpus: 1, memoryPerVCPU: 2 << 20)).measure(in: TestHost.context())
        #expect((sample.kvmStats["pf_taken"] ?? 0) >= 512)
    }
}

extension WatchdogTests {
    /// A pass longer than the timeout that never exits is healthy: the guest's progress counter
    /// moves (seed 002's phases take minutes; the watchdog used to kill them as stuck).
    @Test func aLongPassWithoutExitsIsNotStuck() throws {
        let configuration = GuestConfiguration(vcpus: 1, memoryPerVCPU: 16 << 20)
        let context = TestHost.context(timeoutSeconds: 0.5)
        let vm = try GuestVM(configuration: configuration, context: context)
        try vm.runPasses(1) // maps every page: the long pass below takes no fault and no exit
        var long = vm.defaultWorkload(0)
        long.random = true
        // Sized from a short pass of the same kind, so the long one lasts about 4x the timeout on
        // this host and on an emulated one (~100x slower) alike.
        long.accesses = 2_000_000
        vm.setWorkload(0, long)
        let probeSeconds = Double(try vm.runPasses(1)) / 1e9
        long.accesses = UInt64(min(max(4 * context.timeoutSeconds / probeSeconds, 2), 1000) * 2_000_000)
        // A pass sized from the probe can still end early when the probe was slowed down (a busy
        // host): lengthen it until one pass outlasts twice the timeout, which is what is tested.
        var seconds = 0.0
        for _ in 0..<6 {
            vm.setWorkload(0, long)
            let progressBefore = vm.guestProgress(vcpu: 0)
            let started = MonotonicClock.now()
            try vm.runPasses(1) // a watchdog that took the pass for stuck throws here
            seconds = Double(MonotonicClock.now() - started) / 1e9
            #expect(vm.guestProgress(vcpu: 0) - progressBefore >= long.accesses / UInt64(WorkloadParameters.progressInterval))
            if seconds > 2 * context.timeoutSeconds { break }
            long.accesses *= 2
        }
        #expect(seconds > 2 * context.timeoutSeconds, "the longest pass took only \(seconds) s: it must outlast the timeout")
    }

    /// The memslot loops wait with beginPasses / finishPasses: a stuck vCPU there fails too, instead of hanging.
    @Test(.timeLimit(.minutes(1))) func finishPassesIsWatched() throws {
        let configuration = GuestConfiguration(vcpus: 1, memoryPerVCPU: 2 << 20)
        let vm = try GuestVM(configuration: configuration, context: TestHost.context(timeoutSeconds: 1),
                             userCode: WorkloadProgram.spinForever)
        vm.beginPasses(1)
        let error = #expect(throws: WatchdogTimeout.self) { try vm.finishPasses() }
        #expect(error?.stuckVCPUs == [0])
    }
}

@Suite("start barrier", .enabled(if: KVMSystem.isUsable(), "needs /dev/kvm (readable and writable): skipped"))
struct StartBarrierTests {
    /// Without --pin too, every vCPU thread exists and is parked before the first timed pass.
    @Test func everyVCPUThreadIsParkedWhenTheVMIsBuilt() throws {
        for _ in 0..<3 {
            let vm = try GuestVM(configuration: GuestConfiguration(vcpus: 8, memoryPerVCPU: 2 << 20), context: TestHost.context())
            #expect(vm.vcpuThreadsParked)
        }
    }
}

@Suite("resource lifetime", .enabled(if: KVMSystem.isUsable(), "needs /dev/kvm (readable and writable): skipped"))
struct ResourceLifetimeTests {
    static func openFileCount() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
    }

    /// Every repetition is a fresh VM: when it goes away its vCPU, VM and stats fds must close,
    /// or the kernel keeps each VM (and its memory) alive until the process exits.
    @Test func aVMClosesEveryFdWhenItGoesAway() throws {
        let guest = GuestConfiguration(vcpus: 3, memoryPerVCPU: 2 << 20)
        _ = try DemandPagingScenario(guest: guest).measure(in: TestHost.context()) // first use opens process-wide fds
        Thread.sleep(forTimeInterval: 0.2)
        let before = Self.openFileCount()
        for _ in 0..<4 { _ = try DemandPagingScenario(guest: guest).measure(in: TestHost.context()) }
        Thread.sleep(forTimeInterval: 0.2) // worker threads leave after the VM signals them
        #expect(Self.openFileCount() == before)
    }
}
