import ArgumentParser
import Foundation
import Pipeline
import Results
import Scenarios
import Suites

struct SelftestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract: "Run a KVM selftest binary (tools/testing/selftests/kvm) as a kvmbench case: repetitions, statistics, the result document.",
        discussion: """
        Reads demand_paging_test, dirty_log_perf_test, memslot_perf_test, kvm_page_table_test, \
        access_tracking_perf_test and memslot_modification_stress_test (Linux 6.12). Each repetition runs the \
        binary once; every phase it prints becomes a metric named after its words (Iteration 2 clear dirty log \
        time -> iteration_2_clear_dirty_log_time, s), plus wall_time (kvmbench's clock around the run). \
        The result document (command line, binary, host fingerprint) goes to --output, else to \
        Reports/selftest-<test>-<UTC time>.json; it compares, gates and reports like any other. \
        --case-timeout bounds each run of the binary (default 120 s).

        A binary kvmbench does not read, output that does not parse, a non-zero exit, a signal or a timeout \
        fails the case with the reason and the last lines of the output; a selftest that skips itself \
        (status 4) is unsupported. KVM stats: the selftest's own VM stats fds are out of reach; KVM's host-wide \
        totals in /sys/kernel/debug/kvm are recorded when debugfs is mounted. On a PVM host (kvm_pvm) the \
        selftests' CPL0 guests are emulated, and the case says so: their figures measure the emulator.

        Example: kvmbench selftest --repetitions 5 ./dirty_log_perf_test -- -v 1 -b 64M -i 3

        Exit status: 0 ok (or unsupported), 3 the case failed, 64 bad input (no such binary).
        """)

    @Argument(help: "The selftest binary.")
    var path: String

    @Argument(parsing: .postTerminator, help: "The selftest's own arguments, after --.")
    var arguments: [String] = []

    @OptionGroup var output: OutputOptions

    func run() throws {
        var output = output
        let test = path.split(separator: "/").last.map(String.init) ?? "selftest"
        if output.output == nil {
            output.output = ProjectPaths.defaultReport(suite: "selftest-" + test.filter { $0.isLetter || $0.isNumber || $0 == "_" }).path
        }
        defer { SuiteCLI.note("results written to \(output.output ?? "")") }
        let host = openHost()
        let plan: RunPlan
        do {
            plan = try RunPlan.scenario(SelftestScenario.self, lists: [
                "path": [path], "args": [arguments.map(SelftestScenario.quoted).joined(separator: " ")],
            ], settings: output.settings, limits: host.limits)
        } catch {
            fail(error.message, status: ExitStatus.usage)
        }
        guard let document = try PlanExecution.execute(plan, host: host, output: output, outputs: [URL(fileURLWithPath: output.output ?? "")],
                                                       dryRun: false, heading: "selftest \(test)") else { return }
        if document.cases.contains(where: { $0.status == .failed }) { throw ExitCode(ExitStatus.caseFailed) }
    }
}
