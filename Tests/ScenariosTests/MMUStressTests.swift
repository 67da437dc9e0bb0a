import Foundation
import GuestPrograms
import KVM
import Results
@testable import Harness
@testable import Scenarios
import Testing
import TestSupport

private let hostLimits = HostLimits(maxVCPUs: 1024, memslots: 32764, memAvailable: nil)

@Suite("mmu-stress parameters")
struct MMUStressParameterTests {
    @Test func defaultsAndRecordedParameters() throws {
        let scenario = try MMUStressScenario(parameters: ParameterSet([:]), limits: hostLimits)
        #expect(scenario.guest.vcpus == 2 && scenario.guest.memoryPerVCPU == 64 << 20)
        #expect(scenario.cycles == 10 && scenario.cycleNanos == 50_000_000 && scenario.chunk == 2 << 20)
        #expect(scenario.parameters["cycle_duration"] == "50ms" && scenario.parameters["chunk"] == "2M")
    }

    @Test func badInputIsOneClearError() {
        for bad in [["backing": "shmem"], ["shared_region": "true"], ["chunk": "3M"], ["chunk": "64M"],
                    ["chunk": "1000"], ["cycles": "0"], ["cycle_duration": "10us"], ["cycle_duration": "soon"]] {
            #expect(throws: ParameterError.self) { _ = try MMUStressScenario(parameters: ParameterSet(bad), limits: hostLimits) }
        }
    }
}

@Suite("mmu-stress on a real guest", .serialized, .enabled(if: KVMSystem.isUsable(), "needs /dev/kvm (readable and writable): skipped"))
struct MMUStressKVMTests {
    /// 2 vCPUs x 8 MiB in 2 MiB chunks (4 per vCPU), two short storms.
    func scenario() throws -> MMUStressScenario {
        try MMUStressScenario(parameters: ParameterSet(["vcpus": "2", "mem_per_vcpu": "8M", "cycles": "2", "cycle_duration": "20ms"]),
                              limits: hostLimits)
    }

    @Test func stormsInvalidateAndEveryPageReadsBack() throws {
        let sample = try scenario().measure(in: TestHost.context())
        func metric(_ name: String) -> Double? { sample.metrics.first { $0.name == name }?.value }
        // Two check points x 2 vCPUs x 2048 pages, each read back through KVM's mappings.
        #expect(metric("pages_verified") == Double(2 * 2 * 2048))
        for name in ["mprotect", "discard", "remap"] {
            #expect((metric("\(name)_ops") ?? 0) > 0, "\(name) ran")
            #expect((metric("\(name)_latency.p50") ?? 0) > 0)
        }
        #expect((metric("access_rate_quiet") ?? 0) > 0)
        #expect((metric("read_back_time") ?? 0) > 0)
        // The storms took mappings away and the guest faulted them back in, during the storm or at
        // the next check point (when depends on scheduling, so only the sum is judged). Each check
        // point also discards a chunk of every region and reads it back: 512 pages whose host
        // pages are gone fault one by one (nothing present to prefetch), 2 x 2 x 512 in all, and
        // the remapped chunk next to it faults too.
        let storms = try #require(sample.phaseStats?["storms_and_checks"])
        #expect((storms["pf_fixed"] ?? 0) > 2 * 2 * 512, "pf_fixed \(storms["pf_fixed"] ?? -1)")
    }

    @Test func aPageCorruptedBehindTheGuestsBackFailsWithItsAddress() throws {
        var scenario = try scenario()
        // vCPU 1's region, its last chunk (the first check point discards and remaps chunks 0 and 1).
        let offset: UInt64 = (8 << 20) + 3 * (2 << 20) + 5 * 4096
        scenario.corruptOffsetForTest = offset
        do {
            _ = try scenario.measure(in: TestHost.context())
            Issue.record("the read-back check passed over a corrupted page")
        } catch let mismatch as ReadBackMismatch {
            #expect(mismatch.vcpu == 1)
            #expect(mismatch.guestAddress == GuestLayout.defaultTestBase + offset)
            #expect(mismatch.read == 0xBAD0_BAD0_BAD0_BAD0)
            #expect(mismatch.expected == GuestLayout.defaultTestBase + offset + (1 << 32 | 1))
            #expect(mismatch.description.contains("0x\(String(GuestLayout.defaultTestBase + offset, radix: 16))"))
        }
    }

    @Test func writesToReadOnlyMemoryGetEFAULTAndRetryUntilItIsWritable() throws {
        let vm = try GuestVM(configuration: GuestConfiguration(vcpus: 1, memoryPerVCPU: 2 << 20), context: TestHost.context(), userCode: ReadBackProgram.code)
        vm.retryFaults(true)
        let memory = vm.testMemory.operations
        vm.setReadBackWorkload(0, ReadBackWorkload(base: vm.layout.testBase, pages: 512, token: 7, mode: .write))
        #expect(memory.protect(offset: 0, length: memory.size, writable: false) == 0)
        vm.beginPasses(1)
        // The guest cannot get past its first write while the memory is read-only: wait until the
        // vCPU has met it (a fixed sleep raced the vCPU thread's start on a busy host).
        let deadline = MonotonicClock.now() + 30_000_000_000
        while vm.faultRetriesSoFar == 0 && MonotonicClock.now() < deadline { usleep(1000) }
        let retried = vm.faultRetriesSoFar
        #expect(memory.protect(offset: 0, length: memory.size, writable: true) == 0)
        try vm.finishPasses()
        #expect(retried > 0)
        #expect(memory.load(at: 4096) == vm.layout.testBase + 4096 + 7)
    }
}
