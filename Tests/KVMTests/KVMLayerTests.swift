import Backings
import CKVM
import KVM
import SystemPackage
import Testing

/// A real-mode guest of a few bytes, run at CPL0 (emulated under PVM, which is fine here: these
/// tests check the KVM layer, not the MMU's speed).
enum TinyGuest {
    static let codeAddress: UInt64 = 0x1000
    /// mov al, 0x42 ; out 0x10, al ; hlt
    static let outThenHalt: [UInt8] = [0xB0, 0x42, 0xE6, 0x10, 0xF4]
    /// With DS based at 0x10000: write one byte to offsets 0x1000, 0x3000, 0x4000 (pages 1, 3, 4
    /// of the slot at 0x10000), then out 0x10, al ; hlt.
    static let writePages134: [UInt8] = [
        0xB0, 0x42,                         // mov al, 0x42
        0xA2, 0x00, 0x10,                   // mov [0x1000], al
        0xA2, 0x00, 0x30,                   // mov [0x3000], al
        0xA2, 0x00, 0x40,                   // mov [0x4000], al
        0xE6, 0x10,                         // out 0x10, al
        0xF4,                               // hlt
    ]

    /// Points the vCPU at `codeAddress` in real mode with DS based at `dataBase`.
    static func enterRealMode(_ vcpu: borrowing VCPU, dataBase: UInt64 = 0) throws {
        var sregs = try vcpu.specialRegisters()
        sregs.cs.base = 0
        sregs.cs.selector = 0
        sregs.ds.base = dataBase
        sregs.ds.selector = UInt16(dataBase >> 4)
        try vcpu.setSpecialRegisters(sregs)
        var regs = kvm_regs()
        regs.rip = codeAddress
        regs.rflags = 2
        try vcpu.setRegisters(regs)
    }
}

@Suite("KVM layer on the real /dev/kvm", .enabled(if: KVMSystem.isUsable(), "needs /dev/kvm (readable and writable): skipped"))
struct KVMLayerTests {
    @Test func systemReportsTheStableAPIAndLimits() throws {
        let kvm = try KVMSystem()
        #expect(kvm.apiVersion == 12)
        #expect(kvm.check(.nrMemslots) > 0)
        #expect(kvm.check(.maxVCPUs) >= 1)
        #expect(kvm.vcpuMmapSize >= 4096)
    }

    @Test func createsVMAndVCPUAndRunsToItsExits() throws {
        let kvm = try KVMSystem()
        let vm = try kvm.createVM()
        let memory = try HostMemory(kind: .anonymous4k, size: 64 << 10)
        for (index, byte) in TinyGuest.outThenHalt.enumerated() { memory.buffer[Int(TinyGuest.codeAddress) + index] = byte }
        try vm.setMemslot(Memslot(id: 0, guestPhysicalAddress: 0, size: memory.size, hostAddress: memory.address))
        let vcpu = try vm.createVCPU(id: 0)
        try TinyGuest.enterRealMode(vcpu)
        #expect(try vcpu.run() == .io(port: 0x10, isOut: true, size: 1, count: 1, value: 0x42))
        #expect(try vcpu.run() == .halt)
        let regs = try vcpu.registers()
        #expect(regs.rip == TinyGuest.codeAddress + UInt64(TinyGuest.outThenHalt.count))
    }

    @Test func memslotOverlapIsEEXISTAndSlotIdAtTheLimitIsEINVAL() throws {
        let kvm = try KVMSystem()
        let vm = try kvm.createVM()
        let memory = try HostMemory(kind: .anonymous4k, size: 2 << 20)
        let slot = Memslot(id: 1, guestPhysicalAddress: 1 << 32, size: 1 << 20, hostAddress: memory.address)
        try vm.setMemslot(slot)
        let overlapping = Memslot(id: 2, guestPhysicalAddress: (1 << 32) + 4096, size: 1 << 20, hostAddress: memory.address + (1 << 20))
        #expect(throws: KVMError("KVM_SET_USER_MEMORY_REGION", "slot 2, gpa 0x100001000, size 1 MiB, flags 0x0", errno: .fileExists)) {
            try vm.setMemslot(overlapping)
        }
        let limit = UInt32(kvm.check(.nrMemslots))
        let beyond = Memslot(id: limit, guestPhysicalAddress: 1 << 33, size: 1 << 20, hostAddress: memory.address + (1 << 20))
        let error = #expect(throws: KVMError.self) { try vm.setMemslot(beyond) }
        #expect(error?.errno == .invalidArgument)
        #expect(error?.description.contains("slot \(limit)") == true)
        // Delete frees the range for another slot; a move is either in place or refused with EINVAL.
        try vm.deleteMemslot(id: 1)
        try vm.setMemslot(overlapping)
        do {
            try vm.moveMemslot(overlapping, to: 1 << 34)
        } catch {
            #expect(error.errno == .invalidArgument)
            try vm.deleteMemslot(id: 2)
            var moved = overlapping
            moved.guestPhysicalAddress = 1 << 34
            try vm.setMemslot(moved)
        }
    }

    @Test func dirtyLogBitmapIsExact() throws {
        let kvm = try KVMSystem()
        let vm = try kvm.createVM()
        let code = try HostMemory(kind: .anonymous4k, size: 64 << 10)
        let data = try HostMemory(kind: .anonymous4k, size: 64 << 10)
        for (index, byte) in TinyGuest.writePages134.enumerated() { code.buffer[Int(TinyGuest.codeAddress) + index] = byte }
        try vm.setMemslot(Memslot(id: 0, guestPhysicalAddress: 0, size: code.size, hostAddress: code.address))
        let logged = Memslot(id: 1, guestPhysicalAddress: 0x10000, size: data.size, hostAddress: data.address, flags: .logDirtyPages)
        try vm.setMemslot(logged)
        let vcpu = try vm.createVCPU(id: 0)
        try TinyGuest.enterRealMode(vcpu, dataBase: 0x10000)
        #expect(try vcpu.run() == .io(port: 0x10, isOut: true, size: 1, count: 1, value: 0x42))
        var bitmap = [UInt64](repeating: 0, count: 1)
        try bitmap.withUnsafeMutableBytes { try vm.getDirtyLog(slot: 1, into: $0.baseAddress!) }
        #expect(bitmap[0] == 0b1_1010) // pages 1, 3, 4 and nothing else
        // Without manual protect the log was reset by the read.
        try bitmap.withUnsafeMutableBytes { try vm.getDirtyLog(slot: 1, into: $0.baseAddress!) }
        #expect(bitmap[0] == 0)
    }

    @Test func statsDescribeThemselvesAndCountExits() throws {
        let kvm = try KVMSystem()
        guard kvm.check(.binaryStatsFD) > 0 else { try Test.cancel("this KVM lacks KVM_CAP_BINARY_STATS_FD: skipped") }
        let vm = try kvm.createVM()
        let vmStats = try vm.openStats()
        #expect(vmStats.descriptor(named: "pages_4k") != nil)
        #expect(vmStats.descriptors.allSatisfy { !$0.name.isEmpty && $0.size >= 1 })
        let memory = try HostMemory(kind: .anonymous4k, size: 64 << 10)
        for (index, byte) in TinyGuest.outThenHalt.enumerated() { memory.buffer[Int(TinyGuest.codeAddress) + index] = byte }
        try vm.setMemslot(Memslot(id: 0, guestPhysicalAddress: 0, size: memory.size, hostAddress: memory.address))
        let vcpu = try vm.createVCPU(id: 0)
        try TinyGuest.enterRealMode(vcpu)
        let stats = try vcpu.openStats()
        let found = stats.descriptor(named: "exits")
        let exits = try #require(found)
        #expect(exits.kind == .cumulative)
        var before = stats.makeSnapshot()
        try stats.read(into: &before)
        _ = try vcpu.run()
        let after = try stats.read()
        #expect(after.value(exits) > before.value(exits))
        #expect((stats.deltas(from: before, to: after)["exits"] ?? 0) >= 1)
        #expect(stats.descriptors.contains { $0.isHistogram } == stats.descriptors.contains { $0.kind == .logHistogram || $0.kind == .linearHistogram })
    }

    @Test func callsOnAClosedFdFailWithEBADF() throws {
        let kvm = try KVMSystem()
        let vm = try kvm.createVM()
        try vm.fd.close()
        let error = #expect(throws: KVMError.self) { try vm.deleteMemslot(id: 0) }
        #expect(error?.errno == .badFileDescriptor)
        #expect(error?.description.hasPrefix("KVM_SET_USER_MEMORY_REGION(delete slot 0) failed: EBADF") == true)
    }
}

import Glibc

@Suite("userfaultfd in the KVM layer")
struct UserfaultfdLayerTests {
    /// A userfaultfd; where the kernel refuses one, the test is cancelled (a skip) with its error.
    static func userfaultfd() throws -> Userfaultfd {
        do {
            return try Userfaultfd(features: [])
        } catch {
            try Test.cancel("userfaultfd(2) is unavailable here (\(error)): skipped")
        }
    }

    @Test func aStopEventWakesEveryExclusiveWaiter() throws {
        let uffd = try Self.userfaultfd()
        let stop = try StopEvent()
        let first = try UserfaultfdWaiter(uffd: uffd.handle, stop: stop.handle, exclusive: true)
        let second = try UserfaultfdWaiter(uffd: uffd.handle, stop: stop.handle, exclusive: true)
        stop.signal()
        let woke = (first.wait(), second.wait())
        #expect(woke.0 == .stop)
        #expect(woke.1 == .stop)
        let read = uffd.handle.read()
        #expect(read == .empty) // no fault pending: EAGAIN, not an error
    }

    @Test func registeringAMissingRangeOffersUFFDIOCOPY() throws {
        let uffd = try Self.userfaultfd()
        let memory = try HostMemory(kind: .anonymous4k, size: 64 << 10)
        let offered = try uffd.register(memory.base, length: memory.size, mode: .missing)
        #expect(offered)
        var failure: KVMError?
        do { _ = try uffd.register(memory.base + 1, length: 4096, mode: .missing) } catch { failure = error }
        #expect(failure?.operation == "UFFDIO_REGISTER")
        #expect(failure?.errno == .invalidArgument)
    }
}
