import ArgumentParser
import Results

@main
struct KVMBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kvmbench",
        abstract: "Benchmark and regression suite for KVM MMU scalability, on real KVM guests.",
        discussion: """
        Exit status: 0 success, 1 error, 2 significant regression (gate), 3 a case failed,
        4 baseline missing or incomparable (sensitivity: the positive control is unsupported here), 5 gate inconclusive (a gated metric cannot be decided), 64 usage error, 69 /dev/kvm missing, 75 another kvmbench is measuring (--no-wait), 77 no permission on /dev/kvm,
        128+N interrupted by signal N.
        """,
        version: ToolVersion.current.version,
        subcommands: [HostCommand.self, ListCommand.self, RunCommand.self, SuiteCommand.self, ReportCommand.self,
                      BaselineCommand.self, CompareCommand.self, GateCommand.self, ABCommand.self, SensitivityCommand.self, RestoreCommand.self,
                      SelftestCommand.self, HistoryCommand.self])

    /// ArgumentParser's own main, except that an error it does not know (a Foundation or Swift
    /// error escaping a command) is one line in words (`ErrorText`), not a type dump.
    static func main() {
        HostChangeRecovery.atStart(command: CommandLine.arguments.dropFirst().first)
        RunCommand.checkScenarioWord(Array(CommandLine.arguments.dropFirst()))
        do {
            var command = try parseAsRoot(nil)
            try command.run()
        } catch {
            if String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
                // Help, --version and explicit exit codes as ArgumentParser prints them; a usage
                // error as one line (not "Error: ...", the usage and a hint on three).
                let code = exitCode(for: error)
                if code == .success || error is ExitCode { exit(withError: error) }
                fail(ErrorText.oneLine(message(for: error)), status: code.rawValue)
            }
            fail(ErrorText.describe(error) + " (while running `kvmbench \(CommandLine.arguments.dropFirst().joined(separator: " "))`)", status: 1)
        }
    }
}
