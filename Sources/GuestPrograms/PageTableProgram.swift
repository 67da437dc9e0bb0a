/// One phase of the page-table scenario as the host writes it into a vCPU's parameter block:
/// the access shape of the kernel selftests' kvm_page_table_test guest.
///
/// The region is `blocks` blocks of `blockSize` bytes from `base`. In each block the guest makes
/// one first access at its start (a write of `token` or a read, chosen like the workload's: a
/// write when the xorshift generator's low 32 bits are below the threshold of `writePercent`),
/// then reads `readsPerBlock` 4 KiB pages from `readOffset` into the block. The selftest's phases:
///   create:  one access per large page (even vCPUs write, odd ones read);
///   update:  per large page, a write to its first host page and reads of the pages of its second
///            half (every 4 KiB page written when the backing has no large pages);
///   adjust:  a read of every 4 KiB page.
public struct PageTablePhaseParameters: GuestParameterBlock, Equatable {
    public var base: UInt64
    public var blocks: UInt64
    public var blockSize: UInt64
    public var writePercent: Int
    public var readsPerBlock: UInt64
    public var readOffset: UInt64
    public var token: UInt64

    public init(base: UInt64, blocks: UInt64, blockSize: UInt64, writePercent: Int, readsPerBlock: UInt64 = 0,
                readOffset: UInt64 = 0, token: UInt64) {
        self.base = base
        self.blocks = blocks
        self.blockSize = blockSize
        self.writePercent = writePercent
        self.readsPerBlock = readsPerBlock
        self.readOffset = readOffset
        self.token = token
    }

    /// Writes happen when the low 32 bits of the generator are below this value (2^32 = always).
    public var writeThreshold: UInt64 { UInt64(max(0, min(100, writePercent))) * (1 << 32) / 100 }

    /// 4 KiB pages the guest touches in one pass.
    public var pagesTouched: UInt64 { blocks * (1 + readsPerBlock) }

    /// Stores the block in the layout `PageTableProgram` reads; leaves the progress counter
    /// (`WorkloadParameters.progressOffset`) as it is.
    public func store(into block: UnsafeMutableRawPointer) {
        let fields: [UInt64] = [base, blocks, blockSize, writeThreshold, readsPerBlock, token, readOffset]
        for (index, value) in fields.enumerated() { block.storeBytes(of: value, toByteOffset: index * 8, as: UInt64.self) }
    }
}

/// The CPL3 guest of the page-table scenario: walks `PageTablePhaseParameters` once per pass,
/// bumps the progress counter every `WorkloadParameters.progressInterval` blocks, and ends the
/// pass with the sync exit, like `WorkloadProgram`. r15 is the parameter block, r8 the generator.
public enum PageTableProgram {
    public static var code: [UInt8] {
        var asm = X86Assembler()
        let pass = asm.makeLabel(), block = asm.makeLabel(), write = asm.makeLabel(), reads = asm.makeLabel()
        let readLoop = asm.makeLabel(), next = asm.makeLabel(), counted = asm.makeLabel(), sync = asm.makeLabel()

        asm.bind(pass)
        asm.mov(.r10, load: .r15, displacement: 0)   // r10 = block cursor
        asm.mov(.rcx, load: .r15, displacement: 8)   // rcx = blocks
        asm.mov(.r12, load: .r15, displacement: 16)  // r12 = block size
        asm.mov(.r9, load: .r15, displacement: 24)   // r9  = write threshold
        asm.mov(.r13, load: .r15, displacement: 32)  // r13 = reads per block
        asm.mov(.r14, load: .r15, displacement: 40)  // r14 = token
        asm.mov(.r11, load: .r15, displacement: 48)  // r11 = offset of the reads in the block
        asm.mov(.rbx, imm64: 4096)
        asm.test(.rcx, imm32: 0xFFFF_FFFF)
        asm.jz(sync)

        asm.bind(block)
        asm.mov(.rax, .r8); asm.shl(.rax, 13); asm.xor(.r8, .rax)   // xorshift64
        asm.mov(.rax, .r8); asm.shr(.rax, 7); asm.xor(.r8, .rax)
        asm.mov(.rax, .r8); asm.shl(.rax, 17); asm.xor(.r8, .rax)
        asm.mov32(.rax, .r8)
        asm.cmp(.rax, .r9)
        asm.jb(write)
        asm.mov(.rax, load: .r10)                    // first access: read
        asm.jmp(reads)
        asm.bind(write)
        asm.mov(store: .r10, .r14)                   // first access: write the token
        asm.bind(reads)
        asm.mov(.rdi, .r10); asm.add(.rdi, .r11)     // rdi = block + read offset
        asm.mov(.rdx, .r13)
        asm.test(.rdx, imm32: 0xFFFF_FFFF)
        asm.jz(next)
        asm.bind(readLoop)
        asm.mov(.rax, load: .rdi)
        asm.add(.rdi, .rbx)
        asm.dec(.rdx)
        asm.jnz(readLoop)
        asm.bind(next)
        asm.add(.r10, .r12)
        asm.test(.rcx, imm32: WorkloadParameters.progressInterval - 1)
        asm.jnz(counted)
        asm.inc(load: .r15, displacement: Int8(WorkloadParameters.progressOffset))
        asm.bind(counted)
        asm.dec(.rcx)
        asm.jnz(block)

        asm.bind(sync)
        asm.movDX(GuestLayout.syncPort)
        asm.outDXAL()
        asm.jmp(pass)
        return asm.assembled()
    }
}
