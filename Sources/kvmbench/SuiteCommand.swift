import Harness
import ArgumentParser
import Foundation
import Host
import Pipeline
import Reporting
import Results
import Scenarios
import Suites

struct SuiteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suite",
        abstract: "Run a suite: its scenarios over a matrix of parameters, with warm-ups and repetitions; results to Reports/.",
        usage: "kvmbench suite [<name>] [--file <file>] [<guest flags>] [--set <key=values> ...] [<options>]",
        discussion: """
        NAME is a file Suites/NAME.yaml (kvmbench list shows them); --file runs any suite file. Suites are found in \
        $KVMBENCH_SUITES, else in the Suites/ directory of the kvmbench checkout the executable was built in, else \
        in ./Suites. The guest flags (--vcpus 1,2,4, --slots 32768, --backing thp, ...) and --set key=value[,value] \
        replace that axis in every case entry that has it, or add it to every entry whose scenario takes the key \
        when none has it ('+' joins a value that itself holds commas: --set tests=map+unmap); --repetitions and \
        --warmups replace the suite's counts. Every case is validated before any runs. The result document (with \
        the suite as run) is rewritten atomically after every case to Reports/<suite>-<UTC time>.json \
        ($KVMBENCH_REPORTS overrides Reports/), or to --output.

        Exit status: 0 ok, 3 a case failed, 64 bad suite or flags, 69/77 no usable /dev/kvm.

        \(SuiteAxisOptions.help)
        """)

    @Option(name: .customLong("file"), help: "Run the suite file at this path instead of a named suite.")
    var file: String?

    @OptionGroup var axes: SuiteAxisOptions

    @OptionGroup var output: OutputOptions

    @Option(name: .customLong("save-baseline"), help: "Also save the finished run as baseline NAME (Baselines/NAME.json).")
    var saveBaseline: String?

    @OptionGroup var acceptance: BaselineAcceptanceOptions

    @Flag(name: .customLong("replace"), help: "Let --save-baseline overwrite an existing baseline.")
    var replace = false

    @OptionGroup var history: HistoryRecordingOptions

    @Flag(name: .customLong("dry-run"), help: "Validate the suite and list its cases without running them.")
    var dryRun = false

    func run() throws {
        let (parsed, overrides) = SuiteCLI.orExit { () throws(SuiteError) in
            try SuiteCLI.overrides(axes, output: output, command: "kvmbench suite")
        }
        if parsed.positional.count > 1 { fail("give one suite NAME (got \(parsed.positional.joined(separator: " ")))", status: ExitStatus.usage) }
        let name = parsed.positional.first
        if name == nil && file == nil { fail("give a suite NAME or --file PATH (kvmbench list shows the suites)", status: ExitStatus.usage) }
        if name != nil && file != nil { fail("give either a suite NAME or --file PATH, not both", status: ExitStatus.usage) }
        let suite = SuiteCLI.orExit { () throws(SuiteError) in
            try SuiteCLI.loadSuite(name: name, file: file)
        }
        let store = BaselineStore()
        if let saveBaseline {
            SuiteCLI.orExit { () throws(SuiteError) in try store.checkSavable(saveBaseline, replace: replace) }
            SuiteCLI.orExit { () throws(SuiteError) in
                try BaselineStore.checkHost(openHost().fingerprint, force: acceptance.force, source: "--save-baseline \(saveBaseline)")
            }
        }
        guard let (document, written) = try SuiteCLI.runSuite(suite, overrides: overrides, output: output, dryRun: dryRun,
                                                              history: history.location.path) else { return }
        history.record(document, source: written.path)
        if let saveBaseline {
            let url = SuiteCLI.orExit { () throws(SuiteError) in
                try store.save(document, as: saveBaseline, source: written.path, replace: replace, acceptance: acceptance.acceptance)
            }
            SuiteCLI.note("saved baseline \(saveBaseline) (\(url.path))")
        }
        if document.cases.contains(where: { $0.status == .failed }) { throw ExitCode(ExitStatus.caseFailed) }
    }
}

/// How suite and gate change a suite's matrix: the guest flags (parsed from the guest parameter
/// table, so they are the same flags `run` takes) and --set for any key.
struct SuiteAxisOptions: ParsableArguments {
    @Argument(parsing: .allUnrecognized, help: ArgumentHelp(visibility: .private))
    var guestFlags: [String] = []

    @Option(name: .customLong("set"), help: ArgumentHelp("Replace a matrix axis: key=value[,value...] (e.g. --set dirty_mode=bitmap,ring). Repeatable.", valueName: "key=values"))
    var set: [String] = []

    /// The guest flags' section of the help text.
    static var help: String {
        ParameterHelp.text(GuestParameters.table, title: "GUEST FLAGS (each replaces that axis of the suite; a list is one case each):")
    }
}

/// What the suite, baseline, compare and gate commands share.
enum SuiteCLI {
    /// Runs `body`, or prints its error on one line and exits with its status (64, 4 or 1).
    static func orExit<T>(_ body: () throws(SuiteError) -> T) -> T {
        do {
            return try body()
        } catch {
            fail(error.message, status: status(of: error))
        }
    }

    static func status(of error: SuiteError) -> Int32 {
        switch error.kind {
        case .usage: ExitStatus.usage
        case .baseline: ExitStatus.baselineProblem
        case .other: 1
        }
    }

    static func note(_ text: String) {
        FileHandle.standardError.write(Data("kvmbench: \(text)\n".utf8))
    }

    static var colour: Bool {
        isatty(STDOUT_FILENO) != 0 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
    }

    static func loadSuite(name: String?, file: String?) throws(SuiteError) -> SuiteDefinition {
        if let file { return try SuiteParser.parse(contentsOf: URL(fileURLWithPath: file), label: file) }
        return try SuiteLibrary().load(name ?? "")
    }

    /// The overrides the command line gives a suite: guest flags and --set replace axes, and
    /// --repetitions and --warmups, when given, the suite's own counts. Also returns what the
    /// guest flags' parse left over (a suite's NAME).
    static func overrides(_ axes: SuiteAxisOptions, output: OutputOptions, command: String) throws(SuiteError) -> (CommandLineParameters, SuiteOverrides) {
        let parsed: CommandLineParameters
        do {
            parsed = try CommandLineParameters.parse(axes.guestFlags, table: GuestParameters.table, command: command)
        } catch {
            throw SuiteError(.usage, error.message)
        }
        var overrides = SuiteOverrides(axes: parsed.lists)
        for item in axes.set {
            let (key, values) = try SuiteOverrides.parseSet(item)
            overrides.axes[key] = values
        }
        overrides.repetitions = output.repetitions
        overrides.warmups = output.warmups
        return (parsed, overrides)
    }

    /// Applies overrides, validates every case, runs them and prints the results. Returns nil for
    /// --dry-run. Exits 64 on a bad suite or override.
    static func runSuite(_ base: SuiteDefinition, overrides: SuiteOverrides, output: OutputOptions,
                         dryRun: Bool, printResults: Bool = true, history: String? = nil) throws -> (document: ResultDocument, url: URL)? {
        let suite = orExit { () throws(SuiteError) in try SuitePlanner.apply(overrides, to: base) }
        let host = openHost()
        let plan = orExit { () throws(SuiteError) in try SuitePlanner.plan(suite, limits: host.limits) }
        let url = output.output.map { URL(fileURLWithPath: $0) } ?? ProjectPaths.defaultReport(suite: plan.suite.name)
        guard let document = try PlanExecution.execute(plan.run, host: host, output: output, outputs: [url], dryRun: dryRun,
                                                       heading: "suite \(plan.suite.name) (\(plan.suite.source))",
                                                       printResults: printResults, history: history) else { return nil }
        note("results written to \(url.path)")
        return (document, url)
    }
}
