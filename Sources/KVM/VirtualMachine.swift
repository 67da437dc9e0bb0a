import CKVM
import Glibc
import SystemPackage

/// Flags of a memslot (kvm_userspace_memory_region.flags).
public struct MemslotFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// KVM_MEM_LOG_DIRTY_PAGES: KVM tracks writes to the slot for KVM_GET_DIRTY_LOG and the dirty ring.
    public static let logDirtyPages = MemslotFlags(rawValue: UInt32(KVM_MEM_LOG_DIRTY_PAGES))
    /// KVM_MEM_READONLY: guest writes exit to userspace as MMIO.
    public static let readOnly = MemslotFlags(rawValue: UInt32(KVM_MEM_READONLY))
}

/// One guest-physical range backed by host memory: the argument of KVM_SET_USER_MEMORY_REGION.
public struct Memslot: Sendable, Equatable {
    /// Slot id in address space 0 (0 ..< KVM_CAP_NR_MEMSLOTS).
    public var id: UInt32
    public var guestPhysicalAddress: UInt64
    public var size: UInt64
    /// Host virtual address of the backing memory.
    public var hostAddress: UInt
    public var flags: MemslotFlags
    /// The guest_memfd behind the slot (KVM_MEM_GUEST_MEMFD through KVM_SET_USER_MEMORY_REGION2), if any.
    public var guestMemfd: GuestMemfdBinding?

    public init(id: UInt32, guestPhysicalAddress: UInt64, size: UInt64, hostAddress: UInt, flags: MemslotFlags = [],
                guestMemfd: GuestMemfdBinding? = nil) {
        self.id = id
        self.guestPhysicalAddress = guestPhysicalAddress
        self.size = size
        self.hostAddress = hostAddress
        self.flags = flags
        self.guestMemfd = guestMemfd
    }

    /// Number of 4 KiB guest pages, which is also the number of bits in the slot's dirty bitmap.
    public var pageCount: Int { Int(size >> 12) }

    var described: String {
        "slot \(id), gpa \(hex(guestPhysicalAddress)), size \(formatBytes(size)), flags \(hex(flags.rawValue))"
    }
}

/// Where a guest_memfd-backed slot's memory lives: the guest_memfd and the slot's offset in it.
/// The fd is owned elsewhere (`HostMemory(guestMemfd:size:)`); the binding only names it.
public struct GuestMemfdBinding: Sendable, Equatable {
    public var fd: Int32
    public var offset: UInt64
    public init(fd: Int32, offset: UInt64) {
        self.fd = fd
        self.offset = offset
    }
}

/// Flags of KVM_CREATE_GUEST_MEMFD.
public struct GuestMemfdFlags: OptionSet, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// GUEST_MEMFD_FLAG_MMAP: userspace may mmap the guest_memfd.
    public static let mmap = GuestMemfdFlags(rawValue: UInt64(GUEST_MEMFD_FLAG_MMAP))
    /// GUEST_MEMFD_FLAG_INIT_SHARED: its memory starts shared, so a VM without private memory
    /// can fault it (KVM then maps it through guest_memfd only, never through the host mapping).
    public static let initShared = GuestMemfdFlags(rawValue: UInt64(GUEST_MEMFD_FLAG_INIT_SHARED))
}

/// A virtual machine: an fd from KVM_CREATE_VM. Owns the VM's memslots, dirty logging and stats.
///
/// Wraps the "VM ioctls" of the KVM API document. Memslot and dirty-log calls build their
/// arguments on the stack and allocate nothing, so scenarios may time them.
public struct VirtualMachine: ~Copyable {
    public let fd: FileDescriptor
    let vcpuMmapSize: Int
    /// Bytes of each vCPU's dirty ring, once `enableDirtyRing` succeeded; 0 otherwise.
    public private(set) var dirtyRingBytes: Int = 0

    init(fd: FileDescriptor, vcpuMmapSize: Int) {
        self.fd = fd
        self.vcpuMmapSize = vcpuMmapSize
    }

    deinit { try? fd.close() }

    /// KVM_CHECK_EXTENSION on the VM fd (answers may differ from /dev/kvm's for VM-scoped capabilities).
    public func check(_ capability: Capability) -> Int {
        Int(max(0, ckvm_ioctl_val(fd.rawValue, CKVM_CHECK_EXTENSION, UInt(capability.rawValue))))
    }

    // MARK: Memslots (KVM API 4.35 KVM_SET_USER_MEMORY_REGION)

    /// Creates the slot, or changes the flags of an existing slot with the same id and range.
    /// A slot with a guest_memfd goes through KVM_SET_USER_MEMORY_REGION2.
    public func setMemslot(_ slot: Memslot) throws(KVMError) {
        if let binding = slot.guestMemfd {
            try setMemslot2(slot, guestMemfd: binding.fd, offset: binding.offset)
            return
        }
        var region = kvm_userspace_memory_region(
            slot: slot.id, flags: slot.flags.rawValue, guest_phys_addr: slot.guestPhysicalAddress,
            memory_size: slot.size, userspace_addr: UInt64(slot.hostAddress))
        _ = try retryingOnInterrupt("KVM_SET_USER_MEMORY_REGION", slot.described) {
            ckvm_ioctl_ptr(fd.rawValue, CKVM_SET_USER_MEMORY_REGION, &region)
        }
    }

    /// Deletes slot `id` (a region of size 0). On x86 with KVM_X86_QUIRK_SLOT_ZAP_ALL enabled this
    /// zaps every shadow/TDP page of the VM.
    public func deleteMemslot(id: UInt32) throws(KVMError) {
        var region = kvm_userspace_memory_region(slot: id, flags: 0, guest_phys_addr: 0, memory_size: 0, userspace_addr: 0)
        _ = try retryingOnInterrupt("KVM_SET_USER_MEMORY_REGION", "delete slot \(id)") {
            ckvm_ioctl_ptr(fd.rawValue, CKVM_SET_USER_MEMORY_REGION, &region)
        }
    }

    /// Moves an existing slot to a new guest-physical address in place (KVM_MR_MOVE). Some hosts
    /// refuse this with EINVAL; callers decide whether delete + create is an acceptable stand-in.
    public func moveMemslot(_ slot: Memslot, to guestPhysicalAddress: UInt64) throws(KVMError) {
        var moved = slot
        moved.guestPhysicalAddress = guestPhysicalAddress
        try setMemslot(moved)
    }

    /// Changes a slot's flags (e.g. toggles dirty logging), keeping its range.
    public func setMemslotFlags(_ slot: Memslot, _ flags: MemslotFlags) throws(KVMError) {
        var changed = slot
        changed.flags = flags
        try setMemslot(changed)
    }

    /// KVM_SET_USER_MEMORY_REGION2 (KVM_CAP_USER_MEMORY2) of a slot without guest_memfd.
    public func setMemslot2(_ slot: Memslot) throws(KVMError) {
        try setMemslot2(slot, guestMemfd: -1, offset: 0)
    }

    private func setMemslot2(_ slot: Memslot, guestMemfd: Int32, offset: UInt64) throws(KVMError) {
        var region = kvm_userspace_memory_region2()
        region.slot = slot.id
        region.flags = slot.flags.rawValue | (guestMemfd < 0 ? 0 : UInt32(KVM_MEM_GUEST_MEMFD))
        region.guest_phys_addr = slot.guestPhysicalAddress
        region.memory_size = slot.size
        region.userspace_addr = UInt64(slot.hostAddress)
        region.guest_memfd_offset = offset
        region.guest_memfd = UInt32(bitPattern: guestMemfd)
        _ = try retryingOnInterrupt("KVM_SET_USER_MEMORY_REGION2", slot.described) {
            ckvm_ioctl_ptr(fd.rawValue, CKVM_SET_USER_MEMORY_REGION2, &region)
        }
    }

    /// KVM_CREATE_GUEST_MEMFD: returns the new fd; the caller owns it.
    public func createGuestMemfd(size: UInt64, flags: GuestMemfdFlags) throws(KVMError) -> Int32 {
        var request = kvm_create_guest_memfd()
        request.size = size
        request.flags = flags.rawValue
        return try retryingOnInterrupt("KVM_CREATE_GUEST_MEMFD", "size \(formatBytes(size)), flags \(hex(flags.rawValue))") {
            ckvm_ioctl_ptr(fd.rawValue, CKVM_CREATE_GUEST_MEMFD, &request)
        }
    }

    // MARK: Dirty logging (KVM API 4.8 KVM_GET_DIRTY_LOG, 4.117 KVM_CLEAR_DIRTY_LOG)

    /// Copies slot `slot`'s dirty bitmap (one bit per 4 KiB page, `bitmap` must hold
    /// ceil(pages / 64) * 8 bytes) and, without manual protect, resets it and write-protects the pages again.
    public func getDirtyLog(slot: UInt32, into bitmap: UnsafeMutableRawPointer) throws(KVMError) {
        var log = kvm_dirty_log()
        log.slot = slot
        log.dirty_bitmap = bitmap
        _ = try retryingOnInterrupt("KVM_GET_DIRTY_LOG", "slot \(slot)") {
            ckvm_ioctl_ptr(fd.rawValue, CKVM_GET_DIRTY_LOG, &log)
        }
    }

    /// With manual protect: clears the bits set in `bitmap` for pages [firstPage, firstPage+pageCount)
    /// of the slot and write-protects those pages again. `firstPage` must be a multiple of 64.
    public func clearDirtyLog(slot: UInt32, firstPage: UInt64, pageCount: UInt32, bitmap: UnsafeMutableRawPointer) throws(KVMError) {
        var clear = kvm_clear_dirty_log()
        clear.slot = slot
        clear.num_pages = pageCount
        clear.first_page = firstPage
        clear.dirty_bitmap = bitmap
        _ = try retryingOnInterrupt("KVM_CLEAR_DIRTY_LOG", "slot \(slot), first page \(firstPage), \(pageCount) pages") {
            ckvm_ioctl_ptr(fd.rawValue, CKVM_CLEAR_DIRTY_LOG, &clear)
        }
    }

    /// KVM_ENABLE_CAP on the VM fd.
    public func enable(_ capability: Capability, _ args: UInt64...) throws(KVMError) {
        var request = kvm_enable_cap()
        request.cap = UInt32(capability.rawValue)
        withUnsafeMutableBytes(of: &request.args) { raw in
            for (index, value) in args.prefix(4).enumerated() { raw.storeBytes(of: value, toByteOffset: index * 8, as: UInt64.self) }
        }
        _ = try retryingOnInterrupt("KVM_ENABLE_CAP", "\(capability), args \(args.map { hex($0) })") {
            ckvm_ioctl_ptr(fd.rawValue, CKVM_ENABLE_CAP, &request)
        }
    }

    /// Enables manual dirty-log protection: KVM_GET_DIRTY_LOG no longer re-protects, KVM_CLEAR_DIRTY_LOG does.
    /// With `initiallySet`, every page starts dirty and write access is only removed by the first clear.
    public func enableManualDirtyLogProtect(initiallySet: Bool) throws(KVMError) {
        let flags = UInt64(KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE) | (initiallySet ? UInt64(KVM_DIRTY_LOG_INITIALLY_SET) : 0)
        try enable(.manualDirtyLogProtect2, flags)
    }

    /// Enables a dirty ring of `entries` kvm_dirty_gfn entries per vCPU. Must precede vCPU creation.
    /// Prefers KVM_CAP_DIRTY_LOG_RING_ACQ_REL (needed on weakly ordered hosts) and falls back.
    /// Returns the capability used.
    @discardableResult
    public mutating func enableDirtyRing(entries: Int) throws(KVMError) -> Capability {
        let bytes = entries * MemoryLayout<kvm_dirty_gfn>.stride
        let capability: Capability = check(.dirtyLogRingAcqRel) > 0 ? .dirtyLogRingAcqRel : .dirtyLogRing
        try enable(capability, UInt64(bytes))
        dirtyRingBytes = bytes
        return capability
    }

    /// KVM_RESET_DIRTY_RINGS: re-protects every harvested entry of every vCPU's ring; returns the count.
    @discardableResult
    public func resetDirtyRings() throws(KVMError) -> Int {
        try dirtyRingResetter.reset()
    }

    /// A handle vCPU threads use to call KVM_RESET_DIRTY_RINGS from their ring-full handler.
    ///
    /// SAFETY: the resetter holds the VM fd number only; it is valid while this VM lives. The
    /// harness joins every vCPU thread before it closes the VM, so no handler runs after.
    public var dirtyRingResetter: DirtyRingResetter { DirtyRingResetter(vmFD: fd.rawValue) }

    /// KVM_CAP_DISABLE_QUIRKS2: turns off the given x86 quirks for this VM.
    public func disableQuirks(_ quirks: X86Quirks) throws(KVMError) {
        try enable(.disableQuirks2, quirks.rawValue)
    }

    /// Quirks this host lets a VM disable (KVM_CHECK_EXTENSION(KVM_CAP_DISABLE_QUIRKS2)).
    public var disableableQuirks: X86Quirks { X86Quirks(rawValue: UInt64(check(.disableQuirks2))) }

    // MARK: x86 set-up

    /// KVM_SET_TSS_ADDR: three pages of guest-physical space KVM may use on Intel hosts (below 4 GiB, outside memslots).
    public func setTSSAddress(_ address: UInt64) throws(KVMError) {
        _ = try retryingOnInterrupt("KVM_SET_TSS_ADDR", hex(address)) { ckvm_ioctl_val(fd.rawValue, CKVM_SET_TSS_ADDR, UInt(address)) }
    }

    // MARK: Children

    /// KVM_CREATE_VCPU, then maps the vCPU's run page (and its dirty ring, when enabled).
    public func createVCPU(id: UInt32) throws(KVMError) -> VCPU {
        let vcpufd = try retryingOnInterrupt("KVM_CREATE_VCPU", "id \(id)") { ckvm_ioctl_val(fd.rawValue, CKVM_CREATE_VCPU, UInt(id)) }
        return try VCPU(fd: FileDescriptor(rawValue: vcpufd), id: id, mmapSize: vcpuMmapSize, dirtyRingBytes: dirtyRingBytes)
    }

    /// KVM_GET_STATS_FD on the VM: the VM-wide binary statistics (pages_4k, mmu_shadow_zapped, ...).
    public func openStats() throws(KVMError) -> BinaryStats {
        let statsfd = try retryingOnInterrupt("KVM_GET_STATS_FD", "vm") { ckvm_ioctl_val(fd.rawValue, CKVM_GET_STATS_FD, 0) }
        return try BinaryStats(fd: FileDescriptor(rawValue: statsfd))
    }
}

/// KVM_RESET_DIRTY_RINGS from any thread (see `VirtualMachine.dirtyRingResetter`). KVM serialises
/// resets on the VM's slots_lock, so concurrent calls are safe.
public struct DirtyRingResetter: Sendable {
    let vmFD: Int32

    /// KVM_RESET_DIRTY_RINGS (EINTR retried); returns how many entries were reset. Allocates nothing
    /// unless it throws.
    @discardableResult
    public func reset() throws(KVMError) -> Int {
        Int(try retryingOnInterrupt("KVM_RESET_DIRTY_RINGS") { ckvm_ioctl_val(vmFD, CKVM_RESET_DIRTY_RINGS, 0) })
    }
}

