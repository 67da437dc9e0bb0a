import ArgumentParser

@main
struct KVMBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kvmbench",
        abstract: "Benchmark and regression suite for KVM MMU scalability, on real KVM guests.",
        discussion: """
        Exit status: 0 success, 1 error, 2 significant regression (gate), 3 a case failed,
        4 baseline missing or incomparable, 5 gate inconclusive (a gated metric cannot be decided), 64 usage error, 69 /dev/kvm missing, 77 no permission on /dev/kvm,
        128+N interrupted by signal N.
        """,
        version: ToolVersion.current.version,
        subcommands: [HostCommand.self, ListCommand.self, RunCommand.self, SuiteCommand.self, ReportCommand.self,
                      BaselineCommand.self, CompareCommand.self, GateCommand.self, HistoryCommand.self])
}
