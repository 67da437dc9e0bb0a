import Foundation
import Host
import KVM
import Results
import Scenarios

/// This host as suites need it: its limits (to validate cases) and its fingerprint (to record).
public struct SuiteHost: Sendable {
    public var limits: HostLimits
    public var fingerprint: HostFingerprint

    public init(limits: HostLimits, fingerprint: HostFingerprint) {
        self.limits = limits
        self.fingerprint = fingerprint
    }

    /// Opens /dev/kvm and reads both.
    public static func probe() throws -> SuiteHost {
        let kvm = try KVMSystem()
        return SuiteHost(limits: HostProbe.limits(kvm: kvm), fingerprint: HostProbe.fingerprint(kvm: kvm))
    }

    /// True when /dev/kvm can be opened (tests that run guests are enabled by it).
    public static var kvmUsable: Bool { KVMSystem.isUsable() }
}

/// Runs a validated suite plan and records it.
public enum SuiteRunner {
    /// Runs every case of `plan` in order, writing the document (with the suite record) to `outputs`
    /// after every case. With `handleSignals`, SIGINT/SIGTERM write what was measured, marked
    /// interrupted, and exit 128 + N.
    public static func run(_ plan: SuitePlan, host: SuiteHost, tool: ToolInfo, outputs: [URL],
                           progress: any ProgressReporter, handleSignals: Bool = false) -> ResultDocument {
        let session = RunSession(host: host.fingerprint, tool: tool, suite: plan.record, outputs: outputs)
        if handleSignals { session.handleSignals() }
        for notice in plan.notices { progress.notice(notice) }
        return session.run(plan.cases, maxCV: plan.suite.gate.maxCV, progress: progress)
    }
}

/// A progress reporter that says nothing (tests, --json).
public struct SilentProgress: ProgressReporter {
    public init() {}
    public func caseStarted(index: Int, total: Int, scenario: String, parameters: [String: String]) {}
    public func step(_ text: String) {}
    public func caseFinished(_ result: CaseResult, seconds: Double) {}
    public func notice(_ text: String) {}
}
