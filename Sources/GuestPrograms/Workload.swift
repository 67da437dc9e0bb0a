/// What the host writes into a vCPU's parameter block for the guest program to read at its next
/// pass: the block is 64 bytes of guest memory that the guest rereads, so the host changes the
/// workload without new VMs or register writes.
public protocol GuestParameterBlock: Sendable {
    /// Writes the parameters into a block of `GuestLayout.parameterBlockSize` bytes.
    func store(into block: UnsafeMutableRawPointer)
}

/// What one vCPU does in one pass, as the host writes it into the vCPU's parameter block. The
/// guest rereads the block at the start of every pass, so the host can change the workload between
/// passes without new VMs or register writes.
public struct WorkloadParameters: GuestParameterBlock, Equatable {
    /// First guest-virtual (= physical) address of the vCPU's region.
    public var base: UInt64
    /// Accesses per pass.
    public var accesses: UInt64
    /// Bytes between consecutive accesses (sequential) or between possible targets (random).
    public var stride: UInt64
    /// Percentage of accesses that are writes, 0...100.
    public var writePercent: Int
    /// Random order: each access picks one of `targets` slots at random; else sequential from `base`.
    public var random: Bool
    /// Number of distinct slots `random` picks from (region size / stride).
    public var targets: UInt64
    /// The 8-byte value every write stores at the start of its target. Scenarios set it to the pass
    /// number, so afterwards the host can tell exactly which pages this pass wrote.
    public var token: UInt64

    public init(base: UInt64, accesses: UInt64, stride: UInt64, writePercent: Int, random: Bool,
                targets: UInt64, token: UInt64) {
        self.base = base
        self.accesses = accesses
        self.stride = stride
        self.writePercent = writePercent
        self.random = random
        self.targets = targets
        self.token = token
    }

    /// Writes happen when the low 32 bits of the generator are below this value (2^32 = always).
    public var writeThreshold: UInt64 { UInt64(max(0, min(100, writePercent))) * (1 << 32) / 100 }

    /// Byte offset of the guest's progress counter in the block: the workload increments it every
    /// `progressInterval` accesses, so the host's watchdog sees a long pass advance without exits.
    public static let progressOffset = 56
    /// Accesses between two increments of the progress counter (a power of two).
    public static let progressInterval: UInt32 = 512

    /// Stores the block in the layout `WorkloadProgram` reads (seven little-endian u64 fields; the
    /// eighth, the guest's progress counter, is left as it is).
    public func store(into block: UnsafeMutableRawPointer) {
        let fields: [UInt64] = [base, accesses, stride, writeThreshold, random ? 1 : 0, token, targets]
        for (index, value) in fields.enumerated() { block.storeBytes(of: value, toByteOffset: index * 8, as: UInt64.self) }
    }

    /// Updates only the token (between passes, without rewriting the rest).
    public static func storeToken(_ token: UInt64, into block: UnsafeMutableRawPointer) {
        block.storeBytes(of: token, toByteOffset: 40, as: UInt64.self)
    }
}

/// The guest's measured workload, which runs at CPL3.
///
/// Register use (set once by the host; the loop keeps them):
///   r15  address of this vCPU's parameter block
///   r8   xorshift64 state, seeded per vCPU by the host (never 0)
/// Per pass the workload loads its parameters, then for each access: steps the generator, picks a
/// target (the next stride, or a random slot), and writes the token or reads, by comparing the
/// generator's low 32 bits with the write threshold. Every `progressInterval` accesses it
/// increments the block's progress counter (one store to a cached line, no exit). After the last access it executes
/// `out dx, al` on `GuestLayout.syncPort`: one exit to the host per pass.
public enum WorkloadProgram {
    public static var code: [UInt8] {
        var asm = X86Assembler()
        let pass = asm.makeLabel(), next = asm.makeLabel(), sequential = asm.makeLabel()
        let access = asm.makeLabel(), write = asm.makeLabel(), done = asm.makeLabel(), sync = asm.makeLabel()

        asm.bind(pass)
        asm.mov(.r10, load: .r15, displacement: 0)   // r10 = base
        asm.mov(.rcx, load: .r15, displacement: 8)   // rcx = accesses this pass
        asm.mov(.r12, load: .r15, displacement: 16)  // r12 = stride
        asm.mov(.r9, load: .r15, displacement: 24)   // r9  = write threshold
        asm.mov(.r13, load: .r15, displacement: 32)  // r13 = flags (bit 0: random)
        asm.mov(.r14, load: .r15, displacement: 40)  // r14 = token to write
        asm.mov(.r11, load: .r15, displacement: 48)  // r11 = random targets
        asm.mov(.rsi, .r10)                          // rsi = sequential cursor
        asm.test(.rcx, imm32: 0xFFFF_FFFF)
        asm.jz(sync)

        asm.bind(next)
        asm.mov(.rax, .r8); asm.shl(.rax, 13); asm.xor(.r8, .rax)   // xorshift64: x ^= x << 13
        asm.mov(.rax, .r8); asm.shr(.rax, 7); asm.xor(.r8, .rax)    //             x ^= x >> 7
        asm.mov(.rax, .r8); asm.shl(.rax, 17); asm.xor(.r8, .rax)   //             x ^= x << 17
        asm.test(.r13, imm32: 1)
        asm.jz(sequential)
        asm.mov(.rax, .r8); asm.shr(.rax, 32)        // rax = high 32 bits of x
        asm.imul(.rax, .r11); asm.shr(.rax, 32)      // rax = target index in [0, targets)
        asm.imul(.rax, .r12)                         // rax = index * stride
        asm.mov(.rdi, .r10); asm.add(.rdi, .rax)     // rdi = base + index * stride
        asm.jmp(access)

        asm.bind(sequential)
        asm.mov(.rdi, .rsi); asm.add(.rsi, .r12)     // rdi = cursor; cursor += stride

        asm.bind(access)
        asm.mov32(.rax, .r8)                         // rax = low 32 bits of x
        asm.cmp(.rax, .r9)
        asm.jb(write)                                // below the threshold: write
        asm.mov(.rax, load: .rdi)                    // read
        asm.jmp(done)
        asm.bind(write)
        asm.mov(store: .rdi, .r14)                   // write the token
        asm.bind(done)
        let counted = asm.makeLabel()
        asm.test(.rcx, imm32: WorkloadParameters.progressInterval - 1)
        asm.jnz(counted)
        asm.inc(load: .r15, displacement: Int8(WorkloadParameters.progressOffset)) // progress counter
        asm.bind(counted)
        asm.dec(.rcx)
        asm.jnz(next)

        asm.bind(sync)
        asm.movDX(GuestLayout.syncPort)
        asm.outDXAL()                                // exit to the host: pass done
        asm.jmp(pass)
        return asm.assembled()
    }

    /// A workload that never exits (for watchdog tests): `jmp $`.
    public static var spinForever: [UInt8] { [0xEB, 0xFE] }
}

/// What the host loads into a vCPU before its first KVM_RUN: 64-bit long mode with paging, already
/// at CPL3 in the workload, with RFLAGS.IOPL=3.
///
/// The guest never runs at CPL0. Under shadow-paging KVMs such as PVM, CPL0 guest code is
/// emulated instruction by instruction and takes no real page faults, so a CPL0 workload would
/// measure the emulator rather than the MMU. Under hardware virtualization starting at CPL3 is
/// equally valid. `out` reaches the host because the TSS's I/O bitmap allows every port (some
/// hosts clear IOPL in user mode).
public struct VCPUEntryState: Sendable {
    public var cr0: UInt64 = 0x8005_0033   // PG | AM | WP | NE | ET | MP | PE
    public var cr3: UInt64
    public var cr4: UInt64 = 0x620         // OSXMMEXCPT | OSFXSR | PAE
    public var efer: UInt64 = 0x500        // LMA | LME
    public var gdtBase = GuestLayout.gdtAddress
    public var gdtLimit = DescriptorTables.gdtLimit
    public var idtBase = GuestLayout.idtAddress
    public var idtLimit: UInt16 = 0
    public var code = DescriptorTables.userCode
    public var data = DescriptorTables.userData
    public var taskRegister = DescriptorTables.tss
    public var rip = GuestLayout.userCodeAddress
    /// Top of this vCPU's (unused) user stack.
    public var rsp: UInt64
    /// IOPL=3 and the reserved bit 1.
    public var rflags: UInt64 = 0x3002
    /// r15: the parameter block.
    public var parameterBlock: UInt64
    /// r8: the generator seed.
    public var seed: UInt64

    public init(layout: GuestLayout, vcpu index: Int, seed: UInt64) {
        cr3 = layout.pml4Address
        rsp = layout.stackTop(vcpu: index)
        parameterBlock = layout.parameterBlockAddress(vcpu: index)
        // xorshift64 must not start at 0; mix the vCPU index in so vCPUs differ.
        var mixed = seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(index + 1)
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        self.seed = mixed == 0 ? 1 : mixed
    }
}

/// Lays the whole guest image into the system region: tables, code and page tables.
public enum GuestImage {
    public static func write(layout: GuestLayout, into system: UnsafeMutableRawBufferPointer, userCode: [UInt8] = WorkloadProgram.code,
                             adBits: GuestADBits = .preset) {
        precondition(UInt64(system.count) >= layout.systemSize)
        DescriptorTables.write(into: system)
        copy(userCode, to: GuestLayout.userCodeAddress, in: system)
        var builder = PageTableBuilder(layout: layout, system: system, adBits: adBits)
        builder.build()
    }

    static func copy(_ bytes: [UInt8], to address: UInt64, in system: UnsafeMutableRawBufferPointer) {
        for (index, byte) in bytes.enumerated() { system[Int(address) + index] = byte }
    }

    /// Writes vCPU `index`'s parameter block.
    public static func prepare(vcpu index: Int, workload: WorkloadParameters, layout: GuestLayout,
                               into system: UnsafeMutableRawBufferPointer) {
        workload.store(into: system.baseAddress! + Int(layout.parameterBlockAddress(vcpu: index)))
    }
}
