import Harness
import ArgumentParser
import Foundation
import Host
import Pipeline
import Reporting
import Results
import Scenarios

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run one scenario; comma-separated values of a flag (--vcpus 1,2,4) run one case each.",
        subcommands: ScenarioCatalog.all.compactMap { ($0 as? any ScenarioCommand.Type).map { runCommand($0) } })
}

/// `kvmbench run <scenario>` for one scenario type.
func runCommand<S: ScenarioCommand>(_ scenario: S.Type) -> any ParsableCommand.Type { RunScenario<S>.self }

/// What `kvmbench run <scenario> --help` says beyond the parameter table, and what a run prints
/// after its result tables.
protocol ScenarioCommand: Scenario {
    static var abstract: String { get }
    static var discussion: String { get }
    /// Adds figures over the finished cases to the document and returns text printed after the
    /// result tables (its argument: colour or not); nil for none.
    static var appendix: (@Sendable (inout ResultDocument, Bool) -> String)? { get }
}

extension ScenarioCommand {
    static var appendix: (@Sendable (inout ResultDocument, Bool) -> String)? { nil }
}

/// One scenario's run command. Its flags are the scenario's parameter table (parsed by
/// `CommandLineParameters`, listed in --help from the same table); each takes a comma-separated
/// list, and the cases are the cartesian product of all lists.
struct RunScenario<S: ScenarioCommand>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: S.name, abstract: S.abstract, usage: "kvmbench run \(S.name) [<parameters>] [<options>]",
            discussion: S.discussion + "\n\n" + ParameterHelp.text(
                S.parameterTable, title: "PARAMETERS (comma-separated values run one case each; suites use the keys):"))
    }

    @Argument(parsing: .allUnrecognized, help: ArgumentHelp(visibility: .private))
    var parameterFlags: [String] = []
    @OptionGroup var output: OutputOptions

    func run() throws {
        let parsed: CommandLineParameters
        do {
            parsed = try CommandLineParameters.parse(parameterFlags, table: S.parameterTable, command: "kvmbench run \(S.name)")
        } catch {
            fail(error.message, status: ExitStatus.usage)
        }
        if let word = parsed.positional.first { fail("unexpected argument '\(word)' (parameters are flags: --vcpus 1,2)", status: ExitStatus.usage) }
        let colour = isatty(STDOUT_FILENO) != 0 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        try executeRun(scenario: S.self, lists: parsed.lists, output: output,
                       amend: S.appendix.map { appendix in { document in appendix(&document, colour) } })
    }
}

/// How a run is repeated and where its results go.
struct OutputOptions: ParsableArguments {
    @Option(help: ArgumentHelp(RunParameters.repetitions.helpLine, valueName: "n"))
    var repetitions: Int?
    @Option(help: ArgumentHelp(RunParameters.warmups.helpLine, valueName: "n"))
    var warmups: Int?
    @Flag(help: "Print the result document as JSON on stdout instead of tables.")
    var json = false
    @Flag(help: "Print the results as KTAP version 1 on stdout instead of tables (one test point per case, its figures as diagnostics), as the kselftest runner does.")
    var ktap = false
    @Option(name: .shortAndLong, help: "Also write the result document to this file (atomically, after every case).")
    var output: String?
    @Flag(name: .shortAndLong, help: "No progress lines.")
    var quiet = false
    @Option(name: .customLong("case-timeout"), help: ArgumentHelp(RunParameters.caseTimeout.helpLine, valueName: "seconds"))
    var caseTimeout: Double?
    @Flag(name: .customLong("no-wait"), help: "When another kvmbench is measuring on this host, exit 75 at once instead of waiting for it (one measuring kvmbench per host).")
    var noWait = false

    func validate() throws {
        if json && ktap { throw ValidationError("give at most one of --json and --ktap") }
        do {
            if let repetitions { try RunParameters.repetitions.check(repetitions) }
            if let warmups { try RunParameters.warmups.check(warmups) }
            if let caseTimeout { try RunParameters.caseTimeout.check(caseTimeout) }
        } catch {
            throw ValidationError(error.message)
        }
    }

    var settings: RunSettings {
        RunSettings(warmups: warmups ?? RunParameters.warmups.defaultValue ?? 1,
                    repetitions: repetitions ?? RunParameters.repetitions.defaultValue ?? 5)
    }

    /// `--case-timeout`, else its declared default.
    var timeoutSeconds: Double { caseTimeout ?? RunParameters.caseTimeout.defaultValue ?? CaseContext.defaultTimeoutSeconds }
}

/// Every combination of the lists' values, in a stable order (first key varies slowest).
func cartesianProduct(_ lists: [String: [String]]) -> [[String: String]] {
    var combos: [[String: String]] = [[:]]
    for key in lists.keys.sorted() {
        let values = lists[key] ?? []
        combos = combos.flatMap { combo in values.map { var next = combo; next[key] = $0; return next } }
    }
    return combos
}

/// Validates every case of a run (before any VM exists), runs them, prints and writes the results.
/// `amend`, when given, may add to the finished document (e.g. scaling figures over the cases) and
/// returns text printed after the result tables. Exits 64 on bad input, 3 when a case failed.
func executeRun(scenario: any Scenario.Type, lists: [String: [String]], output: OutputOptions,
                amend: ((inout ResultDocument) -> String)? = nil) throws {
    let host = openHost()
    let limits = host.limits
    if let empty = lists.first(where: { $0.value.isEmpty }) {
        fail("--\(empty.key.replacingOccurrences(of: "_", with: "-")) needs at least one value", status: ExitStatus.usage)
    }
    var cases: [any Scenario] = []
    let combinations = cartesianProduct(lists)
    for parameters in combinations {
        do {
            cases.append(try scenario.init(parameters: ParameterSet(parameters), limits: limits))
        } catch {
            fail(error.message, status: ExitStatus.usage)
        }
    }
    preflight(cases, given: combinations, output: output)
    holdMeasurementLock(wait: !output.noWait)
    let outputs = output.output.map { [URL(fileURLWithPath: $0)] } ?? []
    let session = RunSession(host: host, tool: ToolVersion.current, outputs: outputs, timeoutSeconds: output.timeoutSeconds)
    session.handleSignals()
    let progress = ConsoleProgress(label: scenario.name, quiet: output.quiet || output.json || output.ktap)
    var document = session.run(cases, settings: output.settings, progress: progress)
    var appendix = ""
    if let amend {
        // Through the session, so the amended document is written like every other (errors reported).
        (document, appendix) = session.amend(amend)
    }
    if output.json {
        print(String(decoding: try document.encoded(), as: UTF8.self))
    } else if output.ktap {
        print(KTAPReport.render(document), terminator: "")
    } else {
        let colour = isatty(STDOUT_FILENO) != 0 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        print(renderResultText(document, colour: colour))
        if !appendix.isEmpty { print(appendix) }
    }
    if document.cases.contains(where: { $0.status == .failed }) { throw ExitCode(ExitStatus.caseFailed) }
}
