import Harness
import Foundation
import Host
import Pipeline
import Results
import Scenarios

/// Runs a validated suite plan and records it.
public enum SuiteRunner {
    /// Runs every case of `plan` in order on `host`, writing the document (with the suite record)
    /// to `outputs` after every case. With `handleSignals`, SIGINT/SIGTERM write what was measured,
    /// marked interrupted, and exit 128 + N.
    public static func run(_ plan: SuitePlan, host: HostSession, tool: ToolInfo, outputs: [URL],
                           timeoutSeconds: Double = CaseContext.defaultTimeoutSeconds,
                           progress: any ProgressReporter, handleSignals: Bool = false) -> ResultDocument {
        let session = RunSession(host: host, tool: tool, suite: plan.record, outputs: outputs, timeoutSeconds: timeoutSeconds)
        if handleSignals { session.handleSignals() }
        for notice in plan.notices { progress.notice(notice) }
        return session.run(plan.cases, maxCV: plan.suite.gate.maxCV, progress: progress)
    }
}
