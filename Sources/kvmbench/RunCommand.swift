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
        subcommands: ScenarioCatalog.all.filter { $0.hasRunCommand }.map { runCommand($0) })

    /// `kvmbench run WORD ...` where WORD names no scenario: one line that says so (ArgumentParser
    /// would complain about the first flag after it instead). Called before parsing.
    static func checkScenarioWord(_ arguments: [String]) {
        guard arguments.first == "run", let word = arguments.dropFirst().first, !word.hasPrefix("-"), word != "help" else { return }
        let names = ScenarioCatalog.all.filter { $0.hasRunCommand }.map { $0.name }
        if !names.contains(word) {
            fail("unknown scenario '\(word)' (scenarios: \(names.joined(separator: ", ")))", status: ExitStatus.usage)
        }
    }
}

/// `kvmbench run <scenario>` for one scenario type of the catalog.
func runCommand<S: Scenario>(_ scenario: S.Type) -> any ParsableCommand.Type { RunScenario<S>.self }

/// One scenario's run command: a plan of one scenario's cases, run like a suite's. Its flags are
/// the scenario's parameter table (parsed by `CommandLineParameters`, listed in --help from the
/// same table); each takes a comma-separated list, and the cases are the cartesian product of all lists.
struct RunScenario<S: Scenario>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: S.name, abstract: S.abstract, usage: "kvmbench run \(S.name) [<parameters>] [<options>]",
            discussion: S.discussion + "\n\n" + ParameterHelp.text(
                S.parameterTable, title: "PARAMETERS (comma-separated values run one case each; suites use the keys):"))
    }

    @Argument(parsing: .allUnrecognized, help: ArgumentHelp(visibility: .private))
    var parameterFlags: [String] = []
    @OptionGroup var output: OutputOptions
    @Flag(name: .customLong("dry-run"), help: "Validate the cases and list them without running them.")
    var dryRun = false

    func run() throws {
        let (plan, host) = PlanExecution.scenarioPlan(S.self, flags: parameterFlags, settings: output.settings)
        let outputs = output.output.map { [URL(fileURLWithPath: $0)] } ?? []
        guard let document = try PlanExecution.execute(plan, host: host, output: output, outputs: outputs,
                                                       dryRun: dryRun, heading: "run \(S.name)") else { return }
        if document.cases.contains(where: { $0.status == .failed }) { throw ExitCode(ExitStatus.caseFailed) }
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
    @Option(help: ArgumentHelp(RunParameters.order.helpLine, valueName: "interleaved|sequential"))
    var order: String?
    @Option(name: .customLong("order-seed"), help: ArgumentHelp(RunParameters.orderSeed.helpLine, valueName: "n"))
    var orderSeed: String?

    func validate() throws {
        if json && ktap { throw ValidationError("give at most one of --json and --ktap") }
        do {
            if let repetitions { try RunParameters.repetitions.check(repetitions) }
            if let warmups { try RunParameters.warmups.check(warmups) }
            if let caseTimeout { try RunParameters.caseTimeout.check(caseTimeout) }
            _ = try runOrder()
        } catch {
            throw ValidationError(error.message)
        }
    }

    var settings: RunSettings {
        RunSettings(warmups: warmups ?? RunParameters.warmups.defaultValue ?? 1,
                    repetitions: repetitions ?? RunParameters.repetitions.defaultValue ?? 5)
    }

    /// `--order` and `--order-seed`: interleaved with a drawn seed unless told otherwise. A seed
    /// with a sequential order is refused (it would be silently ignored).
    func runOrder() throws(ParameterError) -> RunOrder {
        let kind = try order.map { text throws(ParameterError) in try RunParameters.order.parse(text) }
            ?? RunParameters.order.defaultValue ?? .interleaved
        let seed = try orderSeed.map { text throws(ParameterError) in try RunParameters.orderSeed.parse(text) }
        if kind == .sequential, let seed {
            throw ParameterError("--order-seed \(seed) with --order sequential: a seed orders interleaved repetitions only; drop one of them")
        }
        return RunOrder(kind: kind, seed: seed ?? UInt64.random(in: 0...UInt64(UInt32.max)))
    }

    /// `plan` in the order the command line asked for (validated in `validate`).
    func ordered(_ plan: RunPlan) -> RunPlan {
        var plan = plan
        if let order = try? runOrder() { plan.order = order }
        return plan
    }

    /// `--case-timeout`, else its declared default.
    var timeoutSeconds: Double { caseTimeout ?? RunParameters.caseTimeout.defaultValue ?? CaseContext.defaultTimeoutSeconds }
}
