/// The guest programs of the memslot tests (memslot_perf_test's `rw` and move guests).

/// The CPL3 guest program of the `rw` test. The standard workload can only write, so this one
/// alternates, pass by pass, between the selftest guest's two halves of `guest_code_test_memslot_rw`:
///   even passes: store the write value at offset 0 of every page of its range;
///   odd passes:  check that offset 2048 of every page holds the expected value (what the host
///                wrote through its slot translation) and zero it; on a mismatch execute `ud2`,
///                which (no IDT) ends in a triple fault: the pass fails with rdi = the address and
///                rax = the value read, like the selftest's GUEST_ASSERT.
/// Parameter block (the `WorkloadParameters` layout, reinterpreted): base (0), pages (8),
/// stride (16), write value (`token`, 40), expected value (`targets`, 48). rbx holds the pass parity.
public enum MemslotRWProgram {
    /// Where in each page the host writes the value the guest checks (the selftest's offset).
    public static let hostOffset = 2048

    public static var code: [UInt8] {
        var asm = X86Assembler()
        let pass = asm.makeLabel(), write = asm.makeLabel(), verify = asm.makeLabel(), check = asm.makeLabel()
        let sync = asm.makeLabel(), fail = asm.makeLabel()
        asm.bind(pass)
        asm.mov(.r10, load: .r15, displacement: 0)    // r10 = base
        asm.mov(.rcx, load: .r15, displacement: 8)    // rcx = pages
        asm.mov(.r12, load: .r15, displacement: 16)   // r12 = stride
        asm.mov(.r14, load: .r15, displacement: 40)   // r14 = value to write
        asm.mov(.r11, load: .r15, displacement: 48)   // r11 = value expected at +2048
        asm.mov(.r13, imm64: UInt64(hostOffset))
        asm.xor(.r9, .r9)                             // r9 = 0
        asm.mov(.rdi, .r10)
        asm.test(.rcx, imm32: 0xFFFF_FFFF)
        asm.jz(sync)
        asm.test(.rbx, imm32: 1)
        asm.jnz(verify)
        asm.bind(write)
        asm.mov(store: .rdi, .r14)
        asm.add(.rdi, .r12)
        asm.dec(.rcx)
        asm.jnz(write)
        asm.jmp(sync)
        asm.bind(verify)
        asm.add(.rdi, .r13)
        asm.bind(check)
        asm.mov(.rax, load: .rdi)
        asm.cmp(.rax, .r11)
        asm.jnz(fail)
        asm.mov(store: .rdi, .r9)
        asm.add(.rdi, .r12)
        asm.dec(.rcx)
        asm.jnz(check)
        asm.bind(sync)
        asm.mov(.rax, imm64: 1)
        asm.xor(.rbx, .rax)                           // the next pass does the other half
        asm.movDX(GuestLayout.syncPort)
        asm.outDXAL()
        asm.jmp(pass)
        asm.bind(fail)
        asm.ud2()
        return asm.assembled()
    }
}

/// The CPL3 guest of the move tests, as memslot_perf_test's move guest: it writes the token to
/// every page of its area lap after lap without ever exiting (writes into the moved slot's hole
/// exit as MMIO, as in the selftest), bumps its progress counter after each lap, and ends the pass
/// with the sync exit only once the host sets the stop word. The host syncs with it through guest
/// memory alone: the lap counter says it runs, the stop word ends it.
/// Parameter block (the `WorkloadParameters` layout): base (0), pages (8), stride (16), token
/// (40), stop word (`targets`, 48: 0 runs, 1 stops), laps (56, the progress counter).
public enum MemslotMoveProgram {
    public static let stopOffset = 48

    public static var code: [UInt8] {
        var asm = X86Assembler()
        let pass = asm.makeLabel(), lap = asm.makeLabel(), write = asm.makeLabel()
        asm.bind(pass)
        asm.mov(.r10, load: .r15, displacement: 0)    // r10 = base
        asm.mov(.r12, load: .r15, displacement: 16)   // r12 = stride
        asm.mov(.r14, load: .r15, displacement: 40)   // r14 = token
        asm.bind(lap)
        asm.mov(.rdi, .r10)
        asm.mov(.rcx, load: .r15, displacement: 8)    // rcx = pages
        asm.bind(write)
        asm.mov(store: .rdi, .r14)
        asm.add(.rdi, .r12)
        asm.dec(.rcx)
        asm.jnz(write)
        asm.inc(load: .r15, displacement: Int8(WorkloadParameters.progressOffset)) // one more lap
        asm.mov(.rax, load: .r15, displacement: Int8(stopOffset))
        asm.test(.rax, imm32: 1)
        asm.jz(lap)
        asm.movDX(GuestLayout.syncPort)
        asm.outDXAL()
        asm.jmp(pass)
        return asm.assembled()
    }
}
