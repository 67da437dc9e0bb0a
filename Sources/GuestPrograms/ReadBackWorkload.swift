/// The parameter block of `ReadBackProgram`, the mmu-stress workload: a write mode that stores a
/// value unique to every page, and a read-back mode that checks each page holds it (or zeroes,
/// inside the window the host discarded or remapped). Uses the first seven of the block's eight
/// fields; the last is left alone.
public struct ReadBackWorkload: GuestParameterBlock, Equatable {
    public enum Mode: UInt64, Sendable { case write = 0, verify = 1 }

    /// First guest address of the vCPU's region.
    public var base: UInt64
    /// Pages visited per pass (one 8-byte access at the start of each).
    public var pages: UInt64
    public var stride: UInt64 = 4096
    /// Guest addresses [zeroStart, zeroEnd) must read back as 0 in verify mode.
    public var zeroStart: UInt64 = 0
    public var zeroEnd: UInt64 = 0
    /// Every page holds `address + token` after a write pass.
    public var token: UInt64
    public var mode: Mode

    public init(base: UInt64, pages: UInt64, token: UInt64, mode: Mode, zeroStart: UInt64 = 0, zeroEnd: UInt64 = 0) {
        self.base = base
        self.pages = pages
        self.token = token
        self.mode = mode
        self.zeroStart = zeroStart
        self.zeroEnd = zeroEnd
    }

    /// The value a write pass stores in the page at guest address `address`.
    public func value(at address: UInt64) -> UInt64 { address &+ token }

    /// Stores the block where `ReadBackProgram` reads it (field 7, offset 56, is not written).
    public func store(into block: UnsafeMutableRawPointer) {
        let fields: [UInt64] = [base, pages, stride, zeroStart, zeroEnd, token, mode.rawValue]
        for (index, value) in fields.enumerated() { block.storeBytes(of: value, toByteOffset: index * 8, as: UInt64.self) }
    }
}

/// The CPL3 program of mmu-stress. Per pass it loads its parameter block (r15), then for each page
/// at base, base + stride, ...: in write mode stores `address + token` at the page's start; in
/// verify mode loads the page's first 8 bytes and compares them with `address + token`, or with 0
/// inside [zeroStart, zeroEnd). A mismatch exits on `mismatchPort` with rdi = the guest address,
/// rbx = the value read and rax = the value expected, then goes on with the next page. Every pass
/// ends with `out` on `GuestLayout.syncPort`, like `WorkloadProgram`.
public enum ReadBackProgram {
    /// Port of the exit that reports a wrong value.
    public static let mismatchPort: UInt16 = 0x1001

    public static var code: [UInt8] {
        var asm = X86Assembler()
        let pass = asm.makeLabel(), next = asm.makeLabel(), verify = asm.makeLabel(), zero = asm.makeLabel()
        let check = asm.makeLabel(), advance = asm.makeLabel(), sync = asm.makeLabel(), mismatch = asm.makeLabel()

        asm.bind(pass)
        asm.mov(.rsi, load: .r15, displacement: 0)   // rsi = cursor (base)
        asm.mov(.rcx, load: .r15, displacement: 8)   // rcx = pages
        asm.mov(.r12, load: .r15, displacement: 16)  // r12 = stride
        asm.mov(.r9, load: .r15, displacement: 24)   // r9  = zero window start
        asm.mov(.r11, load: .r15, displacement: 32)  // r11 = zero window end
        asm.mov(.r14, load: .r15, displacement: 40)  // r14 = token
        asm.mov(.r13, load: .r15, displacement: 48)  // r13 = mode (1: verify)
        asm.test(.rcx, imm32: 0xFFFF_FFFF)
        asm.jz(sync)

        asm.bind(next)
        asm.mov(.rdi, .rsi); asm.add(.rsi, .r12)     // rdi = this page; cursor += stride
        asm.mov(.rax, .rdi); asm.add(.rax, .r14)     // rax = address + token
        asm.test(.r13, imm32: 1)
        asm.jnz(verify)
        asm.mov(store: .rdi, .rax)                   // write mode: store it
        asm.jmp(advance)

        asm.bind(verify)
        asm.cmp(.rdi, .r9); asm.jb(check)            // below the window: expect address + token
        asm.cmp(.rdi, .r11); asm.jb(zero)            // inside the window: expect 0
        asm.jmp(check)
        asm.bind(zero)
        asm.xor(.rax, .rax)
        asm.bind(check)
        asm.mov(.rbx, load: .rdi)                    // rbx = what the guest reads
        asm.cmp(.rbx, .rax)
        asm.jnz(mismatch)

        asm.bind(advance)
        asm.dec(.rcx)
        asm.jnz(next)

        asm.bind(sync)
        asm.movDX(GuestLayout.syncPort)
        asm.outDXAL()                                // exit to the host: pass done
        asm.jmp(pass)

        asm.bind(mismatch)
        asm.movDX(mismatchPort)
        asm.outDXAL()                                // exit to the host: wrong value (rdi, rbx, rax)
        asm.jmp(advance)
        return asm.assembled()
    }
}
