/// The 64-bit general-purpose registers, numbered as in their ModRM/REX encoding.
public enum Register: UInt8, Sendable {
    case rax = 0, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15

    var low3: UInt8 { rawValue & 7 }
    var isExtended: Bool { rawValue >= 8 }
}

/// A label whose address is known once `bind` is called; jumps to it are patched then.
public struct Label: Hashable, Sendable { let id: Int }

/// A tiny x86-64 assembler: just the instructions kvmbench's guest programs use, each emitted
/// by a method named after its mnemonic, so the guest code reads like the assembly it is.
/// Jumps always use rel32 forms, which keeps patching trivial.
public struct X86Assembler: Sendable {
    public private(set) var bytes: [UInt8] = []
    private var labelOffsets: [Int: Int] = [:]
    private var fixups: [(at: Int, label: Int)] = []
    private var nextLabel = 0

    public init() {}

    public var offset: Int { bytes.count }

    public mutating func makeLabel() -> Label {
        defer { nextLabel += 1 }
        return Label(id: nextLabel)
    }

    public mutating func bind(_ label: Label) { labelOffsets[label.id] = bytes.count }

    /// The finished code with every jump resolved.
    public func assembled() -> [UInt8] {
        var out = bytes
        for fixup in fixups {
            guard let target = labelOffsets[fixup.label] else { preconditionFailure("unbound label \(fixup.label)") }
            let rel = Int32(target - (fixup.at + 4))
            withUnsafeBytes(of: rel.littleEndian) { for i in 0..<4 { out[fixup.at + i] = $0[i] } }
        }
        return out
    }

    // MARK: Encoding helpers

    private mutating func rex(w: Bool, reg: Register? = nil, rm: Register? = nil) {
        let byte: UInt8 = 0x40 | (w ? 8 : 0) | ((reg?.isExtended ?? false) ? 4 : 0) | ((rm?.isExtended ?? false) ? 1 : 0)
        if byte != 0x40 { bytes.append(byte) }
    }

    private mutating func modrm(mod: UInt8, reg: UInt8, rm: UInt8) { bytes.append(mod << 6 | (reg & 7) << 3 | (rm & 7)) }

    /// ModRM (and SIB/displacement) for a memory operand [base + disp].
    private mutating func memory(reg: UInt8, base: Register, displacement: Int8) {
        let needsSIB = base.low3 == 4 // rsp, r12
        if displacement == 0 && base.low3 != 5 { // rbp/r13 have no mod=00 form
            modrm(mod: 0, reg: reg, rm: base.low3)
            if needsSIB { bytes.append(0x24) }
        } else {
            modrm(mod: 1, reg: reg, rm: base.low3)
            if needsSIB { bytes.append(0x24) }
            bytes.append(UInt8(bitPattern: displacement))
        }
    }

    private mutating func jump(opcode: [UInt8], to label: Label) {
        bytes += opcode
        fixups.append((bytes.count, label.id))
        bytes += [0, 0, 0, 0]
    }

    // MARK: Instructions

    /// mov dst, [base + disp]
    public mutating func mov(_ dst: Register, load base: Register, displacement: Int8 = 0) {
        rex(w: true, reg: dst, rm: base); bytes.append(0x8B); memory(reg: dst.low3, base: base, displacement: displacement)
    }

    /// mov [base + disp], src
    public mutating func mov(store base: Register, displacement: Int8 = 0, _ src: Register) {
        rex(w: true, reg: src, rm: base); bytes.append(0x89); memory(reg: src.low3, base: base, displacement: displacement)
    }

    /// mov dst, src (64-bit)
    public mutating func mov(_ dst: Register, _ src: Register) {
        rex(w: true, reg: src, rm: dst); bytes.append(0x89); modrm(mod: 3, reg: src.low3, rm: dst.low3)
    }

    /// mov dst32, src32: copies the low 32 bits and zeroes the upper half.
    public mutating func mov32(_ dst: Register, _ src: Register) {
        rex(w: false, reg: src, rm: dst); bytes.append(0x89); modrm(mod: 3, reg: src.low3, rm: dst.low3)
    }

    /// mov dst, imm64 (movabs)
    public mutating func mov(_ dst: Register, imm64 value: UInt64) {
        rex(w: true, rm: dst); bytes.append(0xB8 + dst.low3)
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    /// mov dx, imm16
    public mutating func movDX(_ value: UInt16) {
        bytes += [0x66, 0xBA, UInt8(value & 0xFF), UInt8(value >> 8)]
    }

    public mutating func add(_ dst: Register, _ src: Register) {
        rex(w: true, reg: src, rm: dst); bytes.append(0x01); modrm(mod: 3, reg: src.low3, rm: dst.low3)
    }

    public mutating func xor(_ dst: Register, _ src: Register) {
        rex(w: true, reg: src, rm: dst); bytes.append(0x31); modrm(mod: 3, reg: src.low3, rm: dst.low3)
    }

    /// cmp lhs, rhs (sets flags from lhs - rhs)
    public mutating func cmp(_ lhs: Register, _ rhs: Register) {
        rex(w: true, reg: rhs, rm: lhs); bytes.append(0x39); modrm(mod: 3, reg: rhs.low3, rm: lhs.low3)
    }

    /// imul dst, src (64-bit, low half of the product)
    public mutating func imul(_ dst: Register, _ src: Register) {
        rex(w: true, reg: dst, rm: src); bytes += [0x0F, 0xAF]; modrm(mod: 3, reg: dst.low3, rm: src.low3)
    }

    public mutating func shl(_ dst: Register, _ count: UInt8) {
        rex(w: true, rm: dst); bytes.append(0xC1); modrm(mod: 3, reg: 4, rm: dst.low3); bytes.append(count)
    }

    public mutating func shr(_ dst: Register, _ count: UInt8) {
        rex(w: true, rm: dst); bytes.append(0xC1); modrm(mod: 3, reg: 5, rm: dst.low3); bytes.append(count)
    }

    /// test reg, imm32
    public mutating func test(_ reg: Register, imm32 value: UInt32) {
        rex(w: true, rm: reg); bytes.append(0xF7); modrm(mod: 3, reg: 0, rm: reg.low3)
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    /// inc qword [base + disp]
    public mutating func inc(load base: Register, displacement: Int8 = 0) {
        rex(w: true, rm: base); bytes.append(0xFF); memory(reg: 0, base: base, displacement: displacement)
    }

    public mutating func dec(_ reg: Register) {
        rex(w: true, rm: reg); bytes.append(0xFF); modrm(mod: 3, reg: 1, rm: reg.low3)
    }

    public mutating func jmp(_ label: Label) { jump(opcode: [0xE9], to: label) }
    /// jz / je
    public mutating func jz(_ label: Label) { jump(opcode: [0x0F, 0x84], to: label) }
    /// jnz / jne
    public mutating func jnz(_ label: Label) { jump(opcode: [0x0F, 0x85], to: label) }
    /// jb: jump if below (unsigned <)
    public mutating func jb(_ label: Label) { jump(opcode: [0x0F, 0x82], to: label) }

    /// out dx, al: at CPL3 with RFLAGS.IOPL=3 this exits to the host as KVM_EXIT_IO.
    public mutating func outDXAL() { bytes.append(0xEE) }
    public mutating func hlt() { bytes.append(0xF4) }
    public mutating func iretq() { bytes += [0x48, 0xCF] }
    /// ud2: raises #UD.
    public mutating func ud2() { bytes += [0x0F, 0x0B] }
}
