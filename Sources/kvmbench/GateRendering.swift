import Foundation
import Reporting
import Results
import Suites

/// How a gate's outcome reaches people and machines (terminal, --json, --ktap, the report files and
/// fleet exports): one way for `kvmbench gate` and `kvmbench ab`, so both tell the same verdict.
struct GateRendering {
    let output: OutputOptions
    let flags: ComparisonFlags
    let exports: FleetExportOptions
    let verbose: Bool

    func render(_ outcome: GateOutcome, base: LoadedDocument, after: LoadedDocument) {
        CompareText.printWarnings(outcome.report)
        if output.ktap {
            print(KTAPReport.render(gate: outcome.report.comparison, summary: outcome.summaryLine), terminator: "")
        } else {
            if output.json {
                do {
                    print(String(decoding: try ResultDocument.makeEncoder().encode(outcome.report.comparison), as: UTF8.self))
                } catch {
                    fail("cannot encode the comparison as JSON: \(error)", status: 1)
                }
            } else if verbose {
                print(CompareText.render(outcome.report, listInformational: true))
            }
            // With --json, stdout is the document alone; the verdict lines go to stderr.
            let say: (String) -> Void = output.json ? { SuiteCLI.note($0) } : { print($0) }
            let lines = Gate.regressionLines(outcome)
            if !lines.isEmpty { say(lines.joined(separator: "\n")) }
            let noisy = outcome.report.comparison.metrics.filter { $0.gate && $0.verdict == .noisy }
            if !noisy.isEmpty {
                say("not gated (noisy): " + noisy.map { "\($0.scenario) \($0.metric)" }.joined(separator: ", "))
            }
            if let line = outcome.collectingLine, !outcome.onlyCollecting { say(line) }
            if let line = outcome.undetectableLine { say(line) }
            say(outcome.summaryLine)
        }
        flags.writeReports(outcome.report, documents: [base.document, after.document])
        exports.write(FleetFigure.figures(of: outcome.report.comparison), documents: [base.document, after.document],
                      host: after.document.host, tool: after.document.kvmbench, startedAt: after.document.startedAt)
    }

    /// The exit status of a gate's outcome (see `kvmbench gate --help`).
    static func exitStatus(of status: GateOutcome.Status) -> Int32 {
        switch status {
        case .pass: return 0
        case .regression: return ExitStatus.regression
        case .caseFailed: return ExitStatus.caseFailed
        case .incomparable: return ExitStatus.baselineProblem
        case .inconclusive: return ExitStatus.inconclusive
        }
    }
}
