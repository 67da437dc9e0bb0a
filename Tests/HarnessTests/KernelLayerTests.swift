import Harness
import Backings
import Foundation
import Host
import KVM
import Pipeline
import Scenarios
import Testing
import TestSupport

private func value(_ sample: Sample, _ name: String) -> Double? { sample.metrics.first { $0.name == name }?.value }

/// The slot table, the host session and the userfaultfd figures as the kernel layer now gives them.
@Suite("kernel layer through the harness", .serialized, .enabled(if: KVMSystem.isUsable(), "needs /dev/kvm (readable and writable): skipped"))
struct KernelLayerHarnessTests {
    @Test func everyMemslotCallUpdatesTheGuestsSlotTable() throws {
        let vm = try GuestVM(configuration: GuestConfiguration(vcpus: 1, memoryPerVCPU: 2 << 20, slots: 2), context: TestHost.context())
        #expect(vm.slots.count == 2)
        try vm.setTestSlotFlags(1, .logDirtyPages)
        #expect(vm.slots[1].flags == .logDirtyPages)
        #expect(vm.slots[0].flags == [])
        let extraMemory = try HostMemory(kind: .anonymous4k, size: 64 << 10)
        let extra = Memslot(id: 9, guestPhysicalAddress: 1 << 40, size: 64 << 10, hostAddress: extraMemory.address)
        try vm.setMemslot(extra)
        #expect(vm.otherSlots == [extra])
        try vm.moveMemslot(extra, to: (1 << 40) + (2 << 20))
        #expect(vm.otherSlots.map(\.guestPhysicalAddress) == [(1 << 40) + (2 << 20)])
        try vm.deleteMemslot(id: 9)
        #expect(vm.otherSlots.isEmpty)
        try vm.deleteMemslot(id: vm.slots[0].id)
        #expect(!vm.isTestSlotInstalled(0))
        try vm.setMemslot(vm.slots[0])
        #expect(vm.isTestSlotInstalled(0))
        try vm.runPasses(1) // the guest still runs over the restored slot table
    }

    @Test func aGuestIsBuiltOnTheSessionsDevice() throws {
        #expect(throws: KVMUnavailable.self) { _ = try HostSession(devicePath: "/nonexistent/kvm") }
        let session = TestHost.session
        #expect(session.devicePath == HostSession.devicePath(environment: ProcessInfo.processInfo.environment))
        #expect(session.limits.maxVCPUs >= 1)
        #expect(session.fingerprint.kvmAPIVersion == 12)
    }

    @Test func userfaultfdReportsHandlerLatencyAndTheVCPUSideCostPerFault() throws {
        let guest = GuestConfiguration(vcpus: 2, memoryPerVCPU: 4 << 20)
        let sample = try DemandPagingScenario(guest: guest, uffd: .init(mode: .missing)).measure(in: TestHost.context())
        #expect(value(sample, "uffd_latency_p50") == nil) // the old name said less than it measured
        let handlerMean = try #require(value(sample, "uffd_handler_latency_mean"))
        let vcpuPerFault = try #require(value(sample, "uffd_vcpu_time_per_fault"))
        // A vCPU waits at least as long as the handler works on its fault.
        #expect(vcpuPerFault >= handlerMean * 0.95, "vCPU \(vcpuPerFault) us per fault, handler mean \(handlerMean) us")
    }

    @Test func severalReadersShareOneUserfaultfdWithExclusiveWakeups() throws {
        let guest = GuestConfiguration(vcpus: 2, memoryPerVCPU: 4 << 20)
        let sample = try DemandPagingScenario(guest: guest, uffd: .init(mode: .missing, shared: true, readers: 4)).measure(in: TestHost.context())
        #expect(value(sample, "uffd_copies") == 2048)
        #expect(value(sample, "uffd_messages") == 2048)
    }
}

@Suite("userfaultfd buffers")
struct UffdBufferTests {
    @Test func handlerMemoryIsBoundedWhateverTheGuestSize() {
        // Streaming histograms: the same bytes for 2 MiB and 4 GiB per vCPU (per-fault buffers grew
        // to about 14 GB at 416 vCPUs x 4 GiB).
        let options = UffdService.Options(mode: .missing, readers: 1)
        let bytes = options.bufferBytes(vcpus: 416, unit: 4096)
        #expect(bytes == 416 * 4 * LatencyHistogram.bytes + 4096)
        #expect(bytes < 256 << 20)
        #expect(LatencyHistogram.bytes > 0 && LatencyHistogram.bytes < 256 << 10)
        var histogram = LatencyHistogram()
        for value in 1...100_000 { histogram.record(UInt64(value)) }
        #expect(histogram.count == 100_000)
        #expect(abs(histogram.summary.p50 - 50_000) / 50_000 < 0.001)
    }

    @Test func preflightCountsTheHandlerBuffers() throws {
        let small = try DemandPagingScenario(parameters: ParameterSet(["vcpus": "64", "mem_per_vcpu": "2M", "uffd": "missing", "uffd_readers": "4"]),
                                             limits: HostLimits(maxVCPUs: 1024, memslots: 32764, memAvailable: nil))
        let demand = try #require(small.preflightDemand(number: 1, given: [:]))
        #expect(demand.bufferBytes == 64 * 4 * 4 * LatencyHistogram.bytes + 4096)
        #expect(demand.overhead == demand.testSize / 256 + (64 << 20) + demand.bufferBytes)
        // A host with room for the guest but not for kvmbench's buffers refuses the case.
        let host = PreflightHost(memAvailable: demand.testSize + demand.testSize / 256 + (64 << 20) + demand.bufferBytes / 2,
                                 hugepagesAvailable: [:], hugepagesWritable: [:], fileLimit: (1 << 20, 1 << 20))
        #expect(Preflight.check([demand], host: host).contains { $0.severity == .refusal && $0.message.contains("needs about") })
    }
}
