import GuestPrograms
import Testing

/// Expected bytes come from GNU as 2.40 (`as` + `objdump -d -M intel`) on the same mnemonics.
@Suite("x86 assembler encodings")
struct X86AssemblerTests {
    func bytes(_ body: (inout X86Assembler) -> Void) -> [UInt8] {
        var asm = X86Assembler()
        body(&asm)
        return asm.assembled()
    }

    @Test func loadsAndStores() {
        #expect(bytes { $0.mov(.r10, load: .r15) } == [0x4D, 0x8B, 0x17])              // mov r10, [r15]
        #expect(bytes { $0.mov(.rcx, load: .r15, displacement: 8) } == [0x49, 0x8B, 0x4F, 0x08]) // mov rcx, [r15+8]
        #expect(bytes { $0.mov(.r12, load: .r15, displacement: 16) } == [0x4D, 0x8B, 0x67, 0x10])
        #expect(bytes { $0.mov(.rax, load: .rdi) } == [0x48, 0x8B, 0x07])              // mov rax, [rdi]
        #expect(bytes { $0.mov(store: .rdi, .r14) } == [0x4C, 0x89, 0x37])             // mov [rdi], r14
        #expect(bytes { $0.mov(.rax, load: .r12) } == [0x49, 0x8B, 0x04, 0x24])        // SIB for r12
        #expect(bytes { $0.mov(.rax, load: .r13) } == [0x49, 0x8B, 0x45, 0x00])        // disp8 for r13
    }

    @Test func registerArithmetic() {
        #expect(bytes { $0.mov(.rsi, .r10) } == [0x4C, 0x89, 0xD6])
        #expect(bytes { $0.mov32(.rax, .r8) } == [0x44, 0x89, 0xC0])                   // mov eax, r8d
        #expect(bytes { $0.shl(.rax, 13) } == [0x48, 0xC1, 0xE0, 0x0D])
        #expect(bytes { $0.shr(.rax, 7) } == [0x48, 0xC1, 0xE8, 0x07])
        #expect(bytes { $0.xor(.r8, .rax) } == [0x49, 0x31, 0xC0])
        #expect(bytes { $0.test(.r13, imm32: 1) } == [0x49, 0xF7, 0xC5, 0x01, 0x00, 0x00, 0x00])
        #expect(bytes { $0.imul(.rax, .r11) } == [0x49, 0x0F, 0xAF, 0xC3])
        #expect(bytes { $0.add(.rdi, .rax) } == [0x48, 0x01, 0xC7])
        #expect(bytes { $0.cmp(.rax, .r9) } == [0x4C, 0x39, 0xC8])
        #expect(bytes { $0.dec(.rcx) } == [0x48, 0xFF, 0xC9])
        #expect(bytes { $0.inc(load: .r15, displacement: 56) } == [0x49, 0xFF, 0x47, 0x38]) // inc qword [r15+56]
        #expect(bytes { $0.movDX(0x1000) } == [0x66, 0xBA, 0x00, 0x10])
        #expect(bytes { $0.outDXAL() } == [0xEE])
    }

    @Test func jumpsResolveToTheirLabels() {
        var asm = X86Assembler()
        let top = asm.makeLabel(), bottom = asm.makeLabel()
        asm.bind(top)
        asm.jz(bottom)     // 0: 0F 84 rel32 -> 11
        asm.jmp(top)       // 6: E9 rel32 -> 0
        asm.bind(bottom)   // 11
        let code = asm.assembled()
        #expect(code == [0x0F, 0x84, 0x05, 0x00, 0x00, 0x00, 0xE9, 0xF5, 0xFF, 0xFF, 0xFF])
    }

    @Test func workloadEndsEveryPassWithTheSyncExit() {
        let code = WorkloadProgram.code
        // mov dx, syncPort; out dx, al; jmp <start of pass>
        let sync: [UInt8] = [0x66, 0xBA, UInt8(GuestLayout.syncPort & 0xFF), UInt8(GuestLayout.syncPort >> 8), 0xEE, 0xE9]
        let at = code.count - 10
        #expect(Array(code[at..<(at + 6)]) == sync)
        let rel = code[(code.count - 4)...].enumerated().reduce(Int32(0)) { $0 | Int32($1.element) << (8 * $1.offset) }
        #expect(rel == -Int32(code.count)) // the final jump goes back to offset 0
        // The first instruction loads the base from the parameter block: mov r10, [r15].
        #expect(Array(code.prefix(3)) == [0x4D, 0x8B, 0x17])
    }
}
