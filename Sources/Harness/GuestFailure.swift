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

}

/// A case the host cannot run, with the reason: reported as "unsupported", never as a failure.
public struct ScenarioUnsupported: Error, CustomStringConvertible, Sendable {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
