import ArgumentParser
import Foundation
import Reporting
import Results
import Suites

struct GateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gate",
        abstract: "The regression gate: run a suite (or read a result) and compare it with a baseline; the exit status says whether it regressed.",
        discussion: """
        The after side is --result FILE, else a run of --suite NAME / --file PATH, else a run of the suite recorded \
        in the baseline (its definition as run). Regressions are printed first, then one summary line. A metric \
        regresses when, per the decision rule (see kvmbench compare --help), the change is significant \
        (Mann-Whitney p < alpha and the whole bootstrap interval of the median ratio beyond the threshold) in the \
        bad direction, and the suite's gate section says the metric gates. Noisy metrics (CV above the limit, or \
        measured while other processes used more than max_host_busy of the CPUs) do not gate.

        Exit status, the first that applies: 4 the baseline is missing, unreadable, from a newer kvmbench or a \
        reference, the two share no cases, the hosts differ with --require-same-host, or the result is from an \
        interrupted run; 3 a case failed; 2 a significant regression of a gated metric; 4 no regression but some \
        case ran on a busy host (or nothing was comparable); 0 no regression. 64 usage, 1 other error.
        """)

    @Option(name: .customLong("baseline"), help: "The baseline to gate against: a baseline name or a result file.")
    var baseline: String

    @Option(name: .customLong("suite"), help: "Run this suite for the after side.")
    var suite: String?

    @Option(name: .customLong("file"), help: "Run the suite file at this path for the after side.")
    var file: String?

    @Option(name: .customLong("result"), help: "Gate this result file instead of running anything.")
    var result: String?

    @OptionGroup var guest: GuestOptions

    @Option(name: .customLong("set"), help: ArgumentHelp("Replace a matrix axis of the suite: key=value[,value...]. Repeatable.", valueName: "key=values"))
    var set: [String] = []

    @OptionGroup var output: OutputOptions

    @OptionGroup var flags: ComparisonFlags

    @Flag(name: .shortAndLong, help: "Also print the whole comparison table.")
    var verbose = false

    func validate() throws {
        let sources = [suite, file, result].compactMap { $0 }
        if sources.count > 1 { throw ValidationError("give at most one of --suite, --file and --result") }
    }

    func run() throws {
        let settings = SuiteCLI.orExit { () throws(SuiteError) in try flags.settings() }
        let store = BaselineStore()
        let base = SuiteCLI.orExit { () throws(SuiteError) in try DocumentArgument.load(baseline, store: store) }
        if base.isReference {
            fail("\(base.label) is a reference baseline (published figures from other hardware, one value per metric): it can be compared with `kvmbench compare` but cannot gate", status: ExitStatus.baselineProblem)
        }
        let after: LoadedDocument
        if let result {
            after = SuiteCLI.orExit { () throws(SuiteError) in try DocumentLoader.load(URL(fileURLWithPath: result), label: result) }
        } else {
            let definition = SuiteCLI.orExit { () throws(SuiteError) -> SuiteDefinition in
                if suite != nil || file != nil { return try SuiteCLI.loadSuite(name: suite, file: file) }
                guard let record = base.document.suite else {
                    throw SuiteError(.usage, "\(base.label) records no suite: give --suite NAME, --file PATH or --result FILE")
                }
                return try SuiteParser.parse(record.definition, file: "suite record of \(base.label)")
            }
            let overrides = SuiteCLI.orExit { () throws(SuiteError) in try SuiteCLI.overrides(guest: guest, set: set, output: output) }
            guard let (document, url) = try SuiteCLI.runSuite(definition, overrides: overrides, output: output,
                                                            dryRun: false, printResults: verbose && !output.json && !output.ktap) else { return }
            after = LoadedDocument(document: document, baseline: nil, label: url.path, url: url)
        }
        let outcome = SuiteCLI.orExit { () throws(SuiteError) in try Gate.evaluate(baseline: base, result: after, settings: settings) }
        CompareText.printWarnings(outcome.report)
        if output.ktap {
            print(KTAPReport.render(gate: outcome.report.comparison, summary: outcome.summaryLine), terminator: "")
        } else {
            if output.json {
                print(String(decoding: try ResultDocument.makeEncoder().encode(outcome.report.comparison), as: UTF8.self))
            } else if verbose {
                print(CompareText.render(outcome.report))
            }
            let lines = Gate.regressionLines(outcome)
            if !lines.isEmpty { print(lines.joined(separator: "\n")) }
            let noisy = outcome.report.comparison.metrics.filter { $0.gate && $0.verdict == .noisy }
            if !noisy.isEmpty {
                print("not gated (noisy): " + noisy.map { "\($0.scenario) \($0.metric)" }.joined(separator: ", "))
            }
            print(outcome.summaryLine)
        }
        flags.writeReports(outcome.report, documents: [base.document, after.document])
        switch outcome.status {
        case .pass: return
        case .regression: throw ExitCode(ExitStatus.regression)
        case .caseFailed: throw ExitCode(ExitStatus.caseFailed)
        case .incomparable: throw ExitCode(ExitStatus.baselineProblem)
        }
    }
}
