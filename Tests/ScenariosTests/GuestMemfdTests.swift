import KVM
import Results
@testable import Harness
@testable import Scenarios
import Testing
import TestSupport

private let hostLimits = HostLimits(maxVCPUs: 1024, memslots: 32764, memAvailable: nil)

/// Why guest_memfd with MMAP | INIT_SHARED and KVM_SET_USER_MEMORY_REGION2 cannot be used on
/// this host, or nil when it can.
private let guestMemfdUnusable: String? = {
    guard KVMSystem.isUsable() else { return "needs /dev/kvm (readable and writable)" }
    do {
        try GuestMemfdSupport.check(try KVMSystem())
        return nil
    } catch {
        return "\(error)"
    }
}()

@Suite("guest-memfd parameters")
struct GuestMemfdParameterTests {
    @Test func userfaultfdCannotServeGuestMemfd() {
        #expect(throws: ParameterError.self) {
            _ = try DemandPagingScenario(parameters: ParameterSet(["backing": "guest-memfd", "uffd": "missing"]), limits: hostLimits)
        }
    }
}

@Suite("guest-memfd on a real guest", .serialized,
       .enabled(if: Unavailable.none(guestMemfdUnusable, for: "guest-memfd on a real guest"),
                "needs /dev/kvm with KVM_CAP_GUEST_MEMFD (MMAP, INIT_SHARED) and KVM_SET_USER_MEMORY_REGION2: skipped"))
struct GuestMemfdKVMTests {
    @Test func demandPagingFaultsEveryPageThroughTheGuestMemfd() throws {
        let scenario = try DemandPagingScenario(parameters: ParameterSet(["backing": "guest-memfd", "vcpus": "2", "mem_per_vcpu": "4M"]),
                                                limits: hostLimits)
        let sample = try scenario.measure(in: TestHost.context())
        func metric(_ name: String) -> Double? { sample.metrics.first { $0.name == name }?.value }
        let pages = 2 * 1024
        #expect(metric("pages_touched") == Double(pages))
        #expect((sample.kvmStats["pf_taken"] ?? 0) >= Int64(pages))
        #expect((sample.kvmStats["pages_4k"] ?? 0) >= Int64(pages))
        // The guest_memfd holds every page, and the host mapping of it was never faulted.
        #expect(metric("gmem_pages_allocated") == Double(pages))
        #expect(metric("host_ptes_mapped") == 0)
    }

    @Test func theSlotsAreGuestMemfdSlotsAndKVMRefusesDirtyLoggingOnThem() throws {
        let vm = try GuestVM(configuration: GuestConfiguration(vcpus: 1, memoryPerVCPU: 2 << 20, backing: .guestMemfd, slots: 2), context: TestHost.context())
        #expect(vm.slots.count == 2)
        #expect(vm.slots.allSatisfy { $0.guestMemfd?.fd == vm.testMemory.memfd })
        #expect(vm.slots[1].guestMemfd?.offset == 1 << 20)
        do {
            try vm.setTestSlotFlags(0, .logDirtyPages)
            Issue.record("KVM accepted dirty logging on a guest_memfd slot: GuestMemfdSupport.noDirtyLogging is wrong on this host")
        } catch {
            #expect(error.errno == .invalidArgument)
        }
        // Deleting and re-creating a guest_memfd slot keeps it one (zap-all's populated-slot).
        try vm.deleteMemslot(id: vm.slots[0].id)
        try vm.setMemslot(vm.slots[0])
        try vm.runPasses(1)
    }

    @Test func dirtyLoggingScenariosAreUnsupportedOnGuestMemfd() throws {
        let pageTable = try PageTableScenario(parameters: ParameterSet(["backing": "guest-memfd", "guest_page_size": "4k", "mem_per_vcpu": "4M"]),
                                              limits: hostLimits)
        // Unsupported for the one reason, not any: KVM refuses dirty logging on guest_memfd slots.
        func expectNoDirtyLogging(_ measure: () throws -> Void) {
            let error = #expect(throws: ScenarioUnsupported.self) { try measure() }
            #expect(error?.reason.contains(GuestMemfdSupport.noDirtyLogging) == true, "\(error?.reason ?? "")")
        }
        expectNoDirtyLogging { _ = try pageTable.measure(in: TestHost.context()) }
        let dirty = try DirtyLoggingScenario(parameters: ParameterSet(["backing": "guest-memfd", "mem_per_vcpu": "4M"]), limits: hostLimits)
        expectNoDirtyLogging { _ = try dirty.measure(in: TestHost.context()) }
        let zapDirty = try ZapAllScenario(parameters: ParameterSet(["backing": "guest-memfd", "vcpus": "1", "mem_per_vcpu": "4M",
                                                                     "triggers": "dirty-log"]), limits: hostLimits)
        expectNoDirtyLogging { _ = try zapDirty.measure(in: TestHost.context()) }
    }

    @Test func zapAllRunsOnGuestMemfdWithoutItsDirtyLogTrigger() throws {
        let zap = try ZapAllScenario(parameters: ParameterSet(["backing": "guest-memfd", "vcpus": "1", "mem_per_vcpu": "4M", "runs": "1",
                                                                "triggers": "populated-slot,dirty-log"]), limits: hostLimits)
        let sample = try zap.measure(in: TestHost.context())
        #expect(sample.metrics.contains { $0.name == "populated-slot.refault_time" && $0.value > 0 })
        #expect(!sample.metrics.contains { $0.name.hasPrefix("dirty-log.") })
        #expect(sample.notes.contains { $0.contains("not run: dirty-log on guest-memfd") })
        let phase = try #require(sample.phaseStats?["populated-slot.refault"])
        #expect((phase["pf_taken"] ?? 0) >= 1024)
    }

    @Test func memslotsMovesAndChecksGuestMemfdSlotsAndRefusesWhatCannotApply() throws {
        for bad in [["tests": "map"], ["tests": "unmap-2m,rw"], ["move_method": "in-place"]] {
            #expect(throws: ParameterError.self) {
                _ = try MemslotsScenario(parameters: ParameterSet(bad.merging(["backing": "guest-memfd"]) { a, _ in a }), limits: hostLimits)
            }
        }
        let defaults = try MemslotsScenario(parameters: ParameterSet(["backing": "guest-memfd"]), limits: hostLimits)
        #expect(defaults.tests == [.moveActive, .moveInactive, .rw])
        let scenario = try MemslotsScenario(parameters: ParameterSet(["backing": "guest-memfd", "slots": "16", "mem_per_vcpu": "8M",
                                                                      "tests": "move-inactive,rw", "duration": "100ms"]), limits: hostLimits)
        let sample = try scenario.measure(in: TestHost.context())
        func metric(_ name: String) -> Double? { sample.metrics.first { $0.name == name }?.value }
        #expect((metric("rw.iterations") ?? 0) >= 1)
        #expect((metric("move-inactive.iterations") ?? 0) >= 1 && (metric("move-inactive.average") ?? 0) > 0)
        // KVM keeps guest_memfd slots immutable: the moves were delete + create.
        #expect(sample.extraParameters["move_method"] == "delete-create")
        #expect((sample.phaseStats?["rw"]?["pf_taken"] ?? 0) > 0)
    }
}
