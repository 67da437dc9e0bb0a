import Foundation
import Host
import Scenarios

/// The pre-flight check of a run, after every case is built and before the first VM: the output
/// path, /dev/kvm, memory, hugepages and open files (see `Preflight`). Refusals are printed one
/// per line and exit with the usage status (64); notices are printed and the run goes on.
func preflight(_ cases: [any Scenario], given: [[String: String]], output: OutputOptions) {
    var refusals: [String] = []
    if let path = output.output, let problem = Preflight.outputProblem(path) { refusals.append(problem) }
    if let problem = Preflight.deviceProblem(ProcessInfo.processInfo.environment["KVMBENCH_DEVICE"] ?? "/dev/kvm") {
        refusals.append(problem)
    }
    let demands = cases.enumerated().compactMap { index, scenario in
        scenario.preflightDemand(number: index + 1, given: index < given.count ? given[index] : [:])
    }
    let findings = Preflight.check(demands, host: .current())
    refusals += findings.filter { $0.severity == .refusal }.map(\.message)
    if let last = refusals.last {
        for refusal in refusals.dropLast() { FileHandle.standardError.write(Data("kvmbench: \(refusal)\n".utf8)) }
        fail(last, status: ExitStatus.usage)
    }
    if let files = demands.map(\.openFiles).max() { Preflight.raiseFileLimit(to: UInt64(files)) }
    var notices = findings.filter { $0.severity == .notice }.map(\.message)
    for scenario in cases { notices += scenario.placementNotices }
    var seen = Set<String>()
    for notice in notices where seen.insert(notice).inserted {
        FileHandle.standardError.write(Data("kvmbench: notice: \(notice)\n".utf8))
    }
}
