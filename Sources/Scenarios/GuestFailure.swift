import CKVM
import KVM

/// A guest that did something other than finish its pass: an unexpected exit, a shutdown (triple
/// fault), an internal error. Carries the exit and the registers at that moment.
public struct GuestFailure: Error, CustomStringConvertible, Sendable {
    public var vcpu: Int
    public var exit: VCPUExit
    public var registers: String
    public var detail: String

    public init(vcpu: Int, exit: VCPUExit, registers: String, detail: String = "") {
        self.vcpu = vcpu
        self.exit = exit
        self.registers = registers
        self.detail = detail
    }

    public var description: String {
        "vCPU \(vcpu): unexpected \(exit.name)\(detail.isEmpty ? "" : " (\(detail))"); \(registers)"
    }

    /// "rip=0x5012 rsp=... cr2=..." from the vCPU's current state.
    static func describeRegisters(of vcpu: borrowing VCPU) -> String {
        guard let regs = try? vcpu.registers() else { return "registers unavailable" }
        let sregs = try? vcpu.specialRegisters()
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
}

/// A case the host cannot run, with the reason: reported as "unsupported", never as a failure.
public struct ScenarioUnsupported: Error, CustomStringConvertible, Sendable {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
