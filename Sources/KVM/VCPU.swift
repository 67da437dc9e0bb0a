import CKVM
import Glibc
import SystemPackage

/// Why KVM_RUN returned to userspace, with the payload read from the run page.
public enum VCPUExit: Equatable, Sendable {
    /// KVM_EXIT_IO: the guest executed in/out. `value` is the first `size` bytes of the data.
    case io(port: UInt16, isOut: Bool, size: UInt8, count: UInt32, value: UInt64)
    /// KVM_EXIT_MMIO: the guest accessed guest-physical memory that no memslot backs.
    case mmio(address: UInt64, isWrite: Bool, length: UInt32)
    /// KVM_EXIT_HLT.
    case halt
    /// KVM_EXIT_SHUTDOWN: a triple fault.
    case shutdown
    /// KVM_EXIT_FAIL_ENTRY: the hardware refused to enter the guest.
    case failEntry(hardwareReason: UInt64)
    /// KVM_EXIT_INTERNAL_ERROR (for example an instruction KVM could not emulate).
    case internalError(suberror: UInt32)
    /// KVM_EXIT_DIRTY_RING_FULL: the vCPU's dirty ring must be harvested and reset before it runs again.
    case dirtyRingFull
    /// KVM_RUN returned EINTR: a signal arrived or immediate_exit was set.
    case interrupted
    /// Any other exit reason (KVM_EXIT_*).
    case other(reason: UInt32)

    public var name: String {
        switch self {
        case .io: "KVM_EXIT_IO"
        case .mmio: "KVM_EXIT_MMIO"
        case .halt: "KVM_EXIT_HLT"
        case .shutdown: "KVM_EXIT_SHUTDOWN"
        case .failEntry: "KVM_EXIT_FAIL_ENTRY"
        case .internalError: "KVM_EXIT_INTERNAL_ERROR"
        case .dirtyRingFull: "KVM_EXIT_DIRTY_RING_FULL"
        case .interrupted: "EINTR"
        case .other(let reason): "exit reason \(reason)"
        }
    }
}

/// A virtual CPU: an fd from KVM_CREATE_VCPU, its mmap'd `kvm_run` page and, with the dirty ring
/// enabled, its ring of dirty guest frames.
///
/// Wraps the "vCPU ioctls" of the KVM API document. `run()` allocates nothing; it is what
/// scenarios time.
public struct VCPU: ~Copyable {
    public let fd: FileDescriptor
    public let id: UInt32
    let runPage: UnsafeMutablePointer<kvm_run>
    let mmapSize: Int
    /// The per-vCPU dirty ring, when the VM enabled one before creating this vCPU.
    public var dirtyRing: DirtyRing?

    init(fd: FileDescriptor, id: UInt32, mmapSize: Int, dirtyRingBytes: Int) throws(KVMError) {
        guard let page = mmap(nil, mmapSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd.rawValue, 0), page != MAP_FAILED else {
            let error = Errno(rawValue: Glibc.errno)
            try? fd.close()
            throw KVMError("mmap", "vCPU \(id) run page, \(mmapSize) bytes", errno: error)
        }
        var ring: DirtyRing?
        if dirtyRingBytes > 0 {
            let offset = off_t(Int(KVM_DIRTY_LOG_PAGE_OFFSET) * Int(getpagesize()))
            guard let mapped = mmap(nil, dirtyRingBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.rawValue, offset), mapped != MAP_FAILED else {
                let error = Errno(rawValue: Glibc.errno)
                munmap(page, mmapSize)
                try? fd.close()
                throw KVMError("mmap", "vCPU \(id) dirty ring, \(dirtyRingBytes) bytes", errno: error)
            }
            ring = DirtyRing(base: mapped, bytes: dirtyRingBytes)
        }
        self.fd = fd
        self.id = id
        self.mmapSize = mmapSize
        // SAFETY: KVM maps a struct kvm_run at offset 0 of the vCPU fd; it lives until munmap in deinit.
        runPage = page.assumingMemoryBound(to: kvm_run.self)
        dirtyRing = ring
    }

    deinit {
        if let ring = dirtyRing { munmap(ring.base, ring.bytes) }
        munmap(runPage, mmapSize)
        try? fd.close()
    }

    /// KVM_RUN until the next exit to userspace. EINTR is returned as `.interrupted`, not retried,
    /// so a watchdog can stop a vCPU with a signal.
    public func run() throws(KVMError) -> VCPUExit {
        if ckvm_ioctl_val(fd.rawValue, CKVM_RUN, 0) < 0 {
            let error = Errno(rawValue: Glibc.errno)
            if error == .interrupted || error == .resourceTemporarilyUnavailable { return .interrupted }
            throw KVMError("KVM_RUN", "vCPU \(id)", errno: error)
        }
        return exit
    }

    /// The exit the last KVM_RUN reported.
    public var exit: VCPUExit {
        let run = runPage
        switch Int32(run.pointee.exit_reason) {
        case KVM_EXIT_IO:
            let io = ckvm_run_io(run)!.pointee
            var value: UInt64 = 0
            // SAFETY: data_offset points inside the mmap'd run area; at most 8 bytes are copied.
            withUnsafeMutableBytes(of: &value) { dst in
                dst.copyMemory(from: UnsafeRawBufferPointer(start: UnsafeRawPointer(run) + Int(io.data_offset), count: min(Int(io.size), 8)))
            }
            return .io(port: io.port, isOut: io.direction == UInt8(KVM_EXIT_IO_OUT), size: io.size, count: io.count, value: value)
        case KVM_EXIT_MMIO:
            let mmio = ckvm_run_mmio(run)!.pointee
            return .mmio(address: mmio.phys_addr, isWrite: mmio.is_write != 0, length: mmio.len)
        case KVM_EXIT_HLT: return .halt
        case KVM_EXIT_SHUTDOWN: return .shutdown
        case KVM_EXIT_FAIL_ENTRY: return .failEntry(hardwareReason: ckvm_run_fail_entry(run)!.pointee.hardware_entry_failure_reason)
        case KVM_EXIT_INTERNAL_ERROR: return .internalError(suberror: ckvm_run_internal(run)!.pointee.suberror)
        case KVM_EXIT_DIRTY_RING_FULL: return .dirtyRingFull
        case let reason: return .other(reason: UInt32(reason))
        }
    }

    /// Sets kvm_run.immediate_exit: the next (or current, once kicked by a signal) KVM_RUN returns EINTR.
    public func requestImmediateExit(_ value: Bool = true) {
        ckvm_run_set_immediate_exit(runPage, value ? 1 : 0)
    }

    /// A handle another thread (a watchdog) uses to set this vCPU's immediate_exit.
    ///
    /// SAFETY: the kicker holds the address of the mmap'd run page, which stays mapped until this
    /// VCPU's deinit. Whoever holds a kicker must not use it after the VCPU is gone: the harness
    /// keeps both in the same worker object, so the kicker dies with the VCPU.
    public var kicker: VCPUKicker { VCPUKicker(runPage: runPage) }

    /// "rip=0x5012 rsp=... cr2=..." from the vCPU's current registers (KVM_GET_REGS/SREGS), for
    /// failure messages.
    public func registerSummary() -> String {
        guard let regs = try? registers() else { return "registers unavailable" }
        let sregs = try? specialRegisters()
        var parts = [
            "rip=\(hex(regs.rip))", "rsp=\(hex(regs.rsp))", "rflags=\(hex(regs.rflags))",
            "rax=\(hex(regs.rax))", "rcx=\(hex(regs.rcx))", "rdi=\(hex(regs.rdi))", "r8=\(hex(regs.r8))",
        ]
        if let sregs {
            parts += ["cs=\(hex(sregs.cs.selector))", "cr0=\(hex(sregs.cr0))", "cr2=\(hex(sregs.cr2))",
                      "cr3=\(hex(sregs.cr3))", "efer=\(hex(sregs.efer))"]
        }
        return parts.joined(separator: " ")
    }

    /// Loads `state` with KVM_GET_SREGS/KVM_SET_SREGS (control registers, descriptor tables,
    /// segments) and KVM_SET_REGS (general registers; the rest zero).
    public func load(_ state: VCPUState) throws(KVMError) {
        var sregs = try specialRegisters()
        sregs.cr0 = state.cr0
        sregs.cr3 = state.cr3
        sregs.cr4 = state.cr4
        sregs.efer = state.efer
        sregs.gdt.base = state.gdt.base
        sregs.gdt.limit = state.gdt.limit
        sregs.idt.base = state.idt.base
        sregs.idt.limit = state.idt.limit
        sregs.cs = state.code.kvm
        let data = state.data.kvm
        sregs.ds = data; sregs.es = data; sregs.fs = data; sregs.gs = data; sregs.ss = data
        sregs.tr = state.taskRegister.kvm
        try setSpecialRegisters(sregs)
        var regs = kvm_regs()
        regs.rip = state.rip
        regs.rsp = state.rsp
        regs.rflags = state.rflags
        regs.r15 = state.r15
        regs.r8 = state.r8
        try setRegisters(regs)
    }

    // MARK: Registers (KVM API 4.11-4.14)

    public func registers() throws(KVMError) -> kvm_regs {
        var regs = kvm_regs()
        _ = try retryingOnInterrupt("KVM_GET_REGS", "vCPU \(id)") { ckvm_ioctl_ptr(fd.rawValue, CKVM_GET_REGS, &regs) }
        return regs
    }

    public func setRegisters(_ regs: kvm_regs) throws(KVMError) {
        var regs = regs
        _ = try retryingOnInterrupt("KVM_SET_REGS", "vCPU \(id)") { ckvm_ioctl_ptr(fd.rawValue, CKVM_SET_REGS, &regs) }
    }

    public func specialRegisters() throws(KVMError) -> kvm_sregs {
        var sregs = kvm_sregs()
        _ = try retryingOnInterrupt("KVM_GET_SREGS", "vCPU \(id)") { ckvm_ioctl_ptr(fd.rawValue, CKVM_GET_SREGS, &sregs) }
        return sregs
    }

    public func setSpecialRegisters(_ sregs: kvm_sregs) throws(KVMError) {
        var sregs = sregs
        _ = try retryingOnInterrupt("KVM_SET_SREGS", "vCPU \(id)") { ckvm_ioctl_ptr(fd.rawValue, CKVM_SET_SREGS, &sregs) }
    }

    /// KVM_PRE_FAULT_MEMORY (6.10, KVM_CAP_PRE_FAULT_MEMORY): maps `size` bytes of guest-physical
    /// memory from `guestPhysicalAddress` into the MMU of this vCPU's address space, as a guest
    /// access would, without running the vCPU. KVM returns after part of the range when a signal
    /// is pending (EINTR) or it must reschedule; the call resumes from where KVM stopped until the
    /// whole range is mapped. x86 KVM serves it only with TDP (EOPNOTSUPP under shadow paging).
    public func preFaultMemory(guestPhysicalAddress: UInt64, size: UInt64) throws(KVMError) {
        var range = kvm_pre_fault_memory()
        range.gpa = guestPhysicalAddress
        range.size = size
        while range.size > 0 {
            let result = ckvm_ioctl_ptr(fd.rawValue, CKVM_PRE_FAULT_MEMORY, &range)
            if result >= 0 { continue }
            let error = Errno(rawValue: Glibc.errno)
            if error == .interrupted || error == .resourceTemporarilyUnavailable { continue }
            throw KVMError("KVM_PRE_FAULT_MEMORY", "vCPU \(id), gpa \(hex(range.gpa)), \(formatBytes(range.size)) left", errno: error)
        }
    }

    /// KVM_SET_CPUID2: what CPUID reports inside the guest.
    public func setCPUID(_ cpuid: CPUID) throws(KVMError) {
        var cpuid = cpuid
        _ = try retryingOnInterrupt("KVM_SET_CPUID2", "vCPU \(id), \(cpuid.entries.count) entries") {
            cpuid.withUnsafeMutablePointer { ckvm_ioctl_ptr(fd.rawValue, CKVM_SET_CPUID2, $0) }
        }
    }

    /// KVM_GET_STATS_FD on the vCPU: per-vCPU statistics (pf_taken, pf_fixed, exits, ...).
    public func openStats() throws(KVMError) -> BinaryStats {
        let statsfd = try retryingOnInterrupt("KVM_GET_STATS_FD", "vCPU \(id)") { ckvm_ioctl_val(fd.rawValue, CKVM_GET_STATS_FD, 0) }
        return try BinaryStats(fd: FileDescriptor(rawValue: statsfd))
    }
}

/// Sets a vCPU's kvm_run.immediate_exit from another thread (see `VCPU.kicker`).
public struct VCPUKicker: @unchecked Sendable {
    // SAFETY (Sendable): immediate_exit is written with a release store (ckvm_run_set_immediate_exit)
    // and read by KVM_RUN on entry; nothing else of the run page is touched through the kicker.
    let runPage: UnsafeMutablePointer<kvm_run>

    /// immediate_exit = 1: the vCPU's next KVM_RUN returns EINTR at once; a signal to its thread
    /// ends the current one.
    public func requestImmediateExit() { ckvm_run_set_immediate_exit(runPage, 1) }

    /// Forces the vCPU out of KVM_RUN: immediate_exit (for the next entry) and `signal` to the
    /// vCPU's `thread` (for the current one); KVM_RUN then returns EINTR.
    public func kick(thread: pthread_t) {
        requestImmediateExit()
        pthread_kill(thread, Self.signal)
    }

    /// The signal a kick sends. Its handler does nothing: installed without SA_RESTART, its only
    /// effect is that the KVM_RUN in progress returns EINTR.
    public static let signal = SIGUSR1

    private static let installed: Void = {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(VCPUKicker.signal, &action, nil)
    }()

    /// Installs the do-nothing handler of `signal` (once per process).
    public static func installSignalHandler() { _ = installed }

    /// Unblocks `signal` on the calling vCPU thread and returns the thread to kick. Threads
    /// inherit their creator's signal mask, and the creator may block everything (a Swift
    /// concurrency or Dispatch thread); the vCPU thread must receive the kick.
    public static func acceptKicksOnThisThread() -> pthread_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, signal)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        return pthread_self()
    }
}

/// The register state a vCPU starts from: what `VCPU.load` gives KVM.
public struct VCPUState: Sendable, Equatable {
    /// A segment register as kvm_segment describes it.
    public struct Segment: Sendable, Equatable {
        public var base: UInt64, limit: UInt32, selector: UInt16, type: UInt8
        public var present: Bool, dpl: UInt8, db: Bool, system: Bool, long: Bool, granularity: Bool
        public init(base: UInt64, limit: UInt32, selector: UInt16, type: UInt8, present: Bool, dpl: UInt8,
                    db: Bool, system: Bool, long: Bool, granularity: Bool) {
            self.base = base; self.limit = limit; self.selector = selector; self.type = type
            self.present = present; self.dpl = dpl; self.db = db; self.system = system
            self.long = long; self.granularity = granularity
        }

        var kvm: kvm_segment {
            kvm_segment(base: base, limit: limit, selector: selector, type: type, present: present ? 1 : 0,
                        dpl: dpl, db: db ? 1 : 0, s: system ? 1 : 0, l: long ? 1 : 0, g: granularity ? 1 : 0,
                        avl: 0, unusable: 0, padding: 0)
        }
    }
    /// A descriptor-table register (GDTR, IDTR).
    public struct Table: Sendable, Equatable {
        public var base: UInt64, limit: UInt16
        public init(base: UInt64, limit: UInt16) { self.base = base; self.limit = limit }
    }
    public var cr0: UInt64, cr3: UInt64, cr4: UInt64, efer: UInt64
    public var gdt: Table, idt: Table
    public var code: Segment, data: Segment, taskRegister: Segment
    public var rip: UInt64, rsp: UInt64, rflags: UInt64
    /// General registers the guest program reads at entry.
    public var r15: UInt64, r8: UInt64

    public init(cr0: UInt64, cr3: UInt64, cr4: UInt64, efer: UInt64, gdt: Table, idt: Table,
                code: Segment, data: Segment, taskRegister: Segment, rip: UInt64, rsp: UInt64, rflags: UInt64,
                r15: UInt64, r8: UInt64) {
        self.cr0 = cr0; self.cr3 = cr3; self.cr4 = cr4; self.efer = efer; self.gdt = gdt; self.idt = idt
        self.code = code; self.data = data; self.taskRegister = taskRegister
        self.rip = rip; self.rsp = rsp; self.rflags = rflags; self.r15 = r15; self.r8 = r8
    }
}

/// A vCPU's dirty ring (KVM API 8.29 KVM_CAP_DIRTY_LOG_RING): KVM appends one kvm_dirty_gfn per
/// page the vCPU dirties; userspace harvests entries in order and marks them for reset.
public struct DirtyRing: @unchecked Sendable {
    // SAFETY (Sendable): the ring is only touched by the thread that harvests it; the kernel side is
    // synchronised by the acquire/release accesses to each entry's flags.
    let base: UnsafeMutableRawPointer
    let bytes: Int
    /// Index of the next entry to harvest, as the kernel selftests keep it (`fetch_index`).
    public private(set) var fetchIndex: UInt32 = 0

    init(base: UnsafeMutableRawPointer, bytes: Int) {
        self.base = base
        self.bytes = bytes
    }

    public var entryCount: Int { bytes / MemoryLayout<kvm_dirty_gfn>.stride }

    /// Calls `body(slot, pageOffset)` for every newly dirtied entry, marks each for reset, and
    /// returns how many there were. Follow with `VirtualMachine.resetDirtyRings()`.
    @discardableResult
    public mutating func harvest(_ body: (_ slot: UInt32, _ pageOffset: UInt64) -> Void) -> Int {
        let entries = base.assumingMemoryBound(to: kvm_dirty_gfn.self)
        let mask = UInt32(entryCount - 1)
        var count = 0
        while true {
            let entry = entries + Int(fetchIndex & mask)
            guard ckvm_dirty_gfn_flags_acquire(entry) & CKVM_DIRTY_GFN_F_DIRTY != 0 else { break }
            body(entry.pointee.slot, entry.pointee.offset)
            ckvm_dirty_gfn_mark_reset_release(entry)
            fetchIndex &+= 1
            count += 1
        }
        return count
    }
}
