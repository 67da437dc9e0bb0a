/// A segment register's state as KVM_SET_SREGS takes it (struct kvm_segment), kept free of the
/// KVM types so this module stays pure.
public struct SegmentState: Sendable, Equatable {
    public var base: UInt64 = 0
    public var limit: UInt32 = 0xFFFF_FFFF
    public var selector: UInt16
    /// Segment type: 0xB execute/read accessed (code), 0x3 read/write accessed (data), 0xB busy TSS.
    public var type: UInt8
    public var present = true
    public var dpl: UInt8
    /// D/B: 32-bit default size (data segments; must be 0 for 64-bit code).
    public var db: Bool
    /// S: code/data (true) or system segment (false).
    public var system = true
    /// L: 64-bit code.
    public var long: Bool
    public var granularity = true

    static func code(selector: UInt16, dpl: UInt8) -> SegmentState {
        SegmentState(selector: selector, type: 0xB, dpl: dpl, db: false, long: true)
    }
    static func data(selector: UInt16, dpl: UInt8) -> SegmentState {
        SegmentState(selector: selector, type: 0x3, dpl: dpl, db: true, long: false)
    }
    static let tss = SegmentState(base: GuestLayout.tssAddress, limit: DescriptorTables.tssLimit, selector: GuestLayout.tssSelector,
                                  type: 0xB, dpl: 0, db: false, system: false, long: false, granularity: false)

    /// The 8-byte GDT descriptor for this segment (code/data only).
    var descriptor: UInt64 {
        var d: UInt64 = UInt64(limit >> (granularity ? 12 : 0)) & 0xFFFF
        d |= (base & 0xFF_FFFF) << 16
        d |= UInt64(type) << 40
        d |= (system ? 1 : 0) << 44
        d |= UInt64(dpl) << 45
        d |= (present ? 1 : 0) << 47
        d |= (UInt64(limit >> (granularity ? 12 : 0)) >> 16 & 0xF) << 48
        d |= (long ? 1 : 0) << 53
        d |= (db ? 1 : 0) << 54
        d |= (granularity ? 1 : 0) << 55
        d |= (base >> 24 & 0xFF) << 56
        return d
    }
}

/// The GDT and TSS every kvmbench guest uses: kernel code/data at CPL0 for the entry stub, user
/// code/data at CPL3 for the measured workload (Linux's selectors 0x33/0x2b), and a 64-bit TSS.
public enum DescriptorTables {
    public static let kernelCode = SegmentState.code(selector: GuestLayout.kernelCodeSelector, dpl: 0)
    public static let kernelData = SegmentState.data(selector: GuestLayout.kernelDataSelector, dpl: 0)
    public static let userCode = SegmentState.code(selector: GuestLayout.userCodeSelector, dpl: 3)
    public static let userData = SegmentState.data(selector: GuestLayout.userDataSelector, dpl: 3)
    public static let tss = SegmentState.tss
    /// Ten 8-byte entries: null, kcode, kdata, -, -, udata, ucode, -, tss (16 bytes).
    public static let gdtLimit: UInt16 = 10 * 8 - 1
    /// The TSS: 0x68 bytes, then an I/O permission bitmap of 65536 bits, all clear (every port
    /// allowed at CPL3), then the 0xFF byte that must end it.
    public static let tssLimit: UInt32 = 0x68 + 8192

    /// Writes the GDT and TSS into the system region.
    public static func write(into system: UnsafeMutableRawBufferPointer) {
        let gdt = Int(GuestLayout.gdtAddress)
        for index in 0..<10 { system.storeBytes(of: UInt64(0), toByteOffset: gdt + index * 8, as: UInt64.self) }
        for segment in [kernelCode, kernelData, userData, userCode] {
            system.storeBytes(of: segment.descriptor, toByteOffset: gdt + Int(segment.selector & ~7), as: UInt64.self)
        }
        // 64-bit TSS descriptor: 16 bytes, type 0x9 (available) in memory; KVM loads TR as busy.
        let base = GuestLayout.tssAddress
        var low: UInt64 = UInt64(tssLimit) & 0xFFFF
        low |= (base & 0xFF_FFFF) << 16
        low |= UInt64(0x9) << 40
        low |= 1 << 47
        low |= (base >> 24 & 0xFF) << 56
        system.storeBytes(of: low, toByteOffset: gdt + Int(GuestLayout.tssSelector), as: UInt64.self)
        system.storeBytes(of: base >> 32, toByteOffset: gdt + Int(GuestLayout.tssSelector) + 8, as: UInt64.self)
        // An empty TSS (RSP0 unused: the workload never enters CPL0 again) with no I/O bitmap.
        let tss = Int(GuestLayout.tssAddress)
        for offset in 0..<Int(tssLimit) + 1 { system[tss + offset] = 0 }
        system.storeBytes(of: UInt16(0x68), toByteOffset: tss + 0x66, as: UInt16.self)
        system[tss + Int(tssLimit)] = 0xFF
    }
}
