import ArgumentParser
import Foundation
import Reporting
import Results
import Suites

struct GateCommand: ParsableCommand, HistoryPoolHelp {
    static let lastHelp = "With --against history: how many recorded runs to pool per case."

    static let configuration = CommandConfiguration(
        commandName: "gate",
        abstract: "The regression gate: run a suite (or read a result) and compare it with a baseline; the exit status says whether it regressed.",
        discussion: """
        The after side is --result FILE, else a run of --suite NAME / --file PATH, else a run of the suite recorded \
        in the baseline (its definition as run). The policy (which metrics gate, thresholds, alpha) is the gate \
        section of --suite / --file when given (also with --result), else of the suite recorded in the baseline, \
        else defaults; never the suite recorded in the result being judged. Regressions are printed first, then \
        one summary line. A metric regresses when, per the decision rule (see kvmbench compare --help), the change \
        is significant (Mann-Whitney p < alpha and the whole bootstrap interval of the median ratio beyond the \
        threshold) in the bad direction. A case of the baseline missing from the result or unsupported there, or \
        a gated metric missing from a case, fails the gate like a regression. A gated metric that cannot be decided \
        (too few samples for the test to reach alpha, an interval across the threshold, or noisy: robust spread \
        above the limit or measured while other processes used more than max_host_busy of the CPUs) makes the \
        gate inconclusive.

        Exit status, the first that applies: 4 the baseline is missing, unreadable, from a newer kvmbench or a \
        reference, the two share no cases, the hosts differ in anything but the kernel release (without \
        --allow-other-host; every field that differs is named) or at all with --require-same-host, or the result is from an \
        interrupted run; 3 a case failed; 2 a significant regression of a gated metric, or a baseline case or \
        gated metric missing from the result; 4 no regression but some case ran on a busy host (or nothing was \
        comparable); 5 inconclusive: a gated metric could not be decided; 0 every gated metric unchanged or \
        improved. 64 usage, 1 other error.

        --against history judges the run against the history database instead of one baseline: per case, the \
        samples of the last --last accepted runs of the same host key (and suite) pooled as the before side, \
        then the same rule; the policy comes from --suite / --file, else defaults.

        \(SuiteAxisOptions.help)
        """)

    @Option(name: .customLong("baseline"), help: "The baseline to gate against: a baseline name or a result file.")
    var baseline: String?

    @Option(name: .customLong("against"), help: "`history`: gate against the pooled samples of the last --last accepted runs of this host and case in the history database.")
    var against: String?

    @OptionGroup var pool: HistoryPoolOptions<GateCommand>

    @Option(name: .customLong("suite"), help: "Run this suite for the after side.")
    var suite: String?

    @Option(name: .customLong("file"), help: "Run the suite file at this path for the after side.")
    var file: String?

    @Option(name: .customLong("result"), help: "Gate this result file instead of running anything (with --suite/--file: under that suite's gate policy).")
    var result: String?

    @OptionGroup var axes: SuiteAxisOptions

    @OptionGroup var output: OutputOptions

    @OptionGroup var flags: ComparisonFlags

    @OptionGroup var exports: FleetExportOptions

    @Flag(name: .customLong("allow-other-host"), help: "Gate even when the hosts differ in more than the kernel release (CPU, online CPUs, memory, NUMA nodes, guest or not, KVM module and parameters, THP, kernel command line, microcode).")
    var allowOtherHost = false

    @OptionGroup var history: HistoryRecordingOptions

    @Flag(name: .shortAndLong, help: "Also print the whole comparison, informational metrics included.")
    var verbose = false

    func validate() throws {
        if suite != nil, file != nil { throw ValidationError("give at most one of --suite and --file") }
        if (baseline == nil) == (against == nil) { throw ValidationError("give either --baseline NAME or --against history") }
        if let against, against != "history" { throw ValidationError("--against takes only `history`, not \(against)") }
        if against != nil, suite == nil, file == nil, result == nil {
            throw ValidationError("--against history needs --suite NAME, --file PATH or --result FILE (the history records no suite definition)")
        }
    }

    func run() throws {
        var settings = SuiteCLI.orExit { () throws(SuiteError) in try flags.settings() }
        settings.allowOtherHost = allowOtherHost
        let store = BaselineStore()
        let named = baseline.map { baseline in SuiteCLI.orExit { () throws(SuiteError) in try DocumentArgument.load(baseline, store: store) } }
        if let base = named, base.isReference {
            fail("\(base.label) is a reference baseline (published figures from other hardware, one value per metric): it can be compared with `kvmbench compare` but cannot gate", status: ExitStatus.baselineProblem)
        }
        let after: LoadedDocument
        let given = suite != nil || file != nil
            ? SuiteCLI.orExit { () throws(SuiteError) in try SuiteCLI.loadSuite(name: suite, file: file) } : nil
        if let result {
            after = SuiteCLI.orExit { () throws(SuiteError) in try DocumentLoader.load(URL(fileURLWithPath: result), label: result) }
        } else {
            let definition = SuiteCLI.orExit { () throws(SuiteError) -> SuiteDefinition in
                if let given { return given }
                guard let base = named, let record = base.document.suite else {
                    throw SuiteError(.usage, "\(baseline ?? "") records no suite: give --suite NAME, --file PATH or --result FILE")
                }
                return try SuiteParser.parse(record.definition, file: "suite record of \(base.label)")
            }
            let (parsed, overrides) = SuiteCLI.orExit { () throws(SuiteError) in
                try SuiteCLI.overrides(axes, output: output, command: "kvmbench gate")
            }
            if let word = parsed.positional.first { fail("unexpected argument '\(word)' (the suite is --suite NAME)", status: ExitStatus.usage) }
            guard let (document, url) = try SuiteCLI.runSuite(definition, overrides: overrides, output: output,
                                                            dryRun: false, printResults: verbose && !output.json && !output.ktap) else { return }
            // Measured by this kvmbench, and upgraded as the loader upgrades the baseline: a key the
            // current code records only in some cases reads the same on both sides.
            after = CurrentDeclarations.upgrade(LoadedDocument(document: document, baseline: nil, label: url.path, url: url))
        }
        let base = named ?? history.pooledBaseline(for: after.document, last: pool.last)
        let outcome = SuiteCLI.orExit { () throws(SuiteError) in try Gate.evaluate(baseline: base, result: after, settings: settings, suite: given) }
        CompareText.printWarnings(outcome.report)
        if output.ktap {
            print(KTAPReport.render(gate: outcome.report.comparison, summary: outcome.summaryLine), terminator: "")
        } else {
            if output.json {
                print(String(decoding: try ResultDocument.makeEncoder().encode(outcome.report.comparison), as: UTF8.self))
            } else if verbose {
                print(CompareText.render(outcome.report, listInformational: true))
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
        exports.write(FleetFigure.figures(of: outcome.report.comparison), documents: [base.document, after.document],
                      host: after.document.host, tool: after.document.kvmbench, startedAt: after.document.startedAt)
        history.record(after.document, source: after.url.path, accepted: outcome.status == .pass ? nil : false)
        switch outcome.status {
        case .pass: return
        case .regression: throw ExitCode(ExitStatus.regression)
        case .caseFailed: throw ExitCode(ExitStatus.caseFailed)
        case .incomparable: throw ExitCode(ExitStatus.baselineProblem)
        case .inconclusive: throw ExitCode(ExitStatus.inconclusive)
        }
    }
}
