import ArgumentParser
import Backings
import Foundation
import Host
import Pipeline
import Reporting
import Results
import Scenarios
import Suites

/// `kvmbench sensitivity`: the positive control. Injects a real kernel-side slowdown into KVM's
/// MMU fault path (a trace event, see `TracefsControl`), measures the cases with it off (A) and on
/// (B) in alternating blocks, and reports per gated metric the effect and whether the gate's rule
/// would have caught it.
struct SensitivityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sensitivity",
        abstract: "Positive control: inject a kernel-side slowdown into KVM's MMU (a kvmmmu trace event) and show whether the gate sees it.",
        usage: """
        kvmbench sensitivity run <scenario> [<scenario's flags>] [--level event|stacktrace] [--rounds n] [<options>]
          kvmbench sensitivity --suite <name> | --file <path> [<guest flags>] [--level event|stacktrace] [--rounds n] [<options>]
        """,
        discussion: """
        Enables the trace event \(TracefsControl.system):\(TracefsControl.event) (which KVM hits for every SPTE it installs) \
        in a tracefs instance of kvmbench's own, with --level stacktrace (the default) also options/stacktrace there: a fixed \
        amount of kernel work per fault, inside the path the gate watches. The cases run with the control off (A) and on \
        (B) in blocks that alternate A B B A A B ... (--rounds N: N pairs, default 2: A B B A), so slow drift of the host \
        cancels; every block has the cases' warm-ups and repetitions. The repetitions of the A blocks, pooled, are \
        compared with those of the B blocks, pooled (first version: block-to-block variation is not modelled), by the \
        same rule `kvmbench gate --baseline` applies, at the suite's thresholds (a single scenario: the default gate \
        policy). The report gives per gated metric the measured change with its interval and whether the gate caught it.

        tracefs is restored exactly as found on every path: kvmbench mounts tracefs only when it is mounted nowhere \
        (at a mount point beside the host-change ledger, unmounted afterwards), and records the mount, its instance and \
        every switch it writes (with the value before) in the ledger before making them; they are undone after every B \
        block, on an error, on SIGINT/SIGTERM, and after a SIGKILL by the next kvmbench. The control slows every KVM \
        guest on the host while it is on, so it runs under the host's measurement lock.

        Scenarios for run: \(ScenarioCatalog.names) (their flags: kvmbench run SCENARIO --help).

        Exit status: 0 the control ran (a report, not a gate: a control the gate missed still exits 0), 3 a case failed, \
        4 the control is unsupported here (not root, no tracefs, no \(TracefsControl.system) events), 64 usage, 69/77 no \
        usable /dev/kvm.

        \(SuiteAxisOptions.help)
        """)

    @Option(name: .customLong("suite"), help: "Run this suite's cases (Suites/NAME.yaml) off and on.")
    var suite: String?

    @Option(name: .customLong("file"), help: "Run the suite file at this path off and on.")
    var file: String?

    @OptionGroup var control: ControlOptions

    @Flag(name: .customLong("dry-run"), help: "Check that the control can run here (without turning it on) and the cases, list them and the blocks, and run nothing.")
    var dryRun = false

    @OptionGroup var axes: SuiteAxisOptions

    @OptionGroup var output: OutputOptions

    func validate() throws {
        if suite != nil, file != nil { throw ValidationError("give at most one of --suite and --file") }
        try control.check(output)
    }

    func run() throws {
        let selection = CaseSelection.select(suite: suite, file: file, axes: axes, output: output,
                                             command: "kvmbench sensitivity", beforeHost: PositiveControl.refuseUnsupported)
        if dryRun {
            print("sensitivity \(selection.plan.label): \(selection.plan.cases.count) case(s); control \(control.controlLevel.describing); blocks \(PositiveControl.pattern(rounds: control.rounds))")
            for notice in selection.plan.notices { print("  notice: \(notice)") }
            PlanExecution.listCases(selection.plan.cases)
            return
        }
        PositiveControl.execute(selection.plan, host: selection.host, policy: selection.policy, control: control, output: output)
    }
}

/// --level and --rounds.
struct ControlOptions: ParsableArguments {
    @Option(help: ArgumentHelp("event: \(ControlLevel.event.describing); stacktrace: \(ControlLevel.stacktrace.describing) (a larger cost).", valueName: "event|stacktrace"))
    var level: String = ControlLevel.stacktrace.rawValue

    @Option(help: ArgumentHelp("Pairs of blocks, alternating A B, B A, ... (2: A B B A).", valueName: "n"))
    var rounds: Int = 2

    @Flag(name: .shortAndLong, help: "Also print the whole comparison, informational metrics included.")
    var verbose = false

    var controlLevel: ControlLevel { ControlLevel(rawValue: level) ?? .stacktrace }

    func check(_ output: OutputOptions) throws {
        guard ControlLevel(rawValue: level) != nil else {
            throw ValidationError("--level takes event or stacktrace, not '\(level)'")
        }
        guard (1...50).contains(rounds) else { throw ValidationError("--rounds takes 1 ... 50, not \(rounds)") }
        if output.ktap { throw ValidationError("--ktap is not for sensitivity (a report, not test results); use --json") }
        if output.output != nil { throw ValidationError("-o/--output is not for sensitivity; use --json and redirect it") }
    }
}

/// The positive control's run and report.
enum PositiveControl {
    /// Block `index` (0-based) of `rounds` pairs: is the control on? Pairs alternate A B, B A, ...
    static func isOn(block index: Int) -> Bool {
        let round = index / 2, second = index % 2 == 1
        return round % 2 == 0 ? second : !second
    }

    /// Exits 4 with the reason when the control cannot run here (not root, no tracefs), before
    /// /dev/kvm is opened: a user without root learns that first.
    static func refuseUnsupported() {
        if let problem = TracefsControl.precheck() {
            fail("sensitivity: unsupported: \(problem)", status: ExitStatus.baselineProblem)
        }
    }

    /// "A B B A".
    static func pattern(rounds: Int) -> String {
        (0..<(2 * rounds)).map { isOn(block: $0) ? "B" : "A" }.joined(separator: " ")
    }

    /// Runs `plan` in the control's blocks (its notices printed once, before the first) and reports.
    static func execute(_ plan: RunPlan, host: HostSession, policy: (GatePolicy, String),
                        control options: ControlOptions, output: OutputOptions) -> Never {
        let label = plan.label, maxCV = plan.maxCV, suite = plan.suite
        var blockPlan = plan
        blockPlan.notices = []
        let level = options.controlLevel
        refuseUnsupported()
        // The control slows every guest on the host: only under the measurement lock.
        holdMeasurementLock(wait: !output.noWait)
        // Everything the control needs is tried once (and undone) before the first guest.
        do {
            let trial = try TracefsControl.apply(level)
            trial.remove()
        } catch {
            fail("sensitivity: unsupported: \(error)", status: ExitStatus.baselineProblem)
        }
        let blocks = 2 * options.rounds
        let quiet = output.quiet || output.json
        var off: [ResultDocument] = [], on: [ResultDocument] = []
        var recorded = 0
        var instance = ""
        for notice in plan.notices where !quiet { SuiteCLI.note("notice: \(notice)") }
        for block in 0..<blocks {
            let enabled = isOn(block: block)
            var control: TracefsControl?
            if enabled {
                do {
                    control = try TracefsControl.apply(level)
                } catch {
                    fail("sensitivity: cannot turn the control on for block \(block + 1): \(error)", status: 1)
                }
                instance = control?.instance ?? ""
            }
            let session = RunSession(host: host, tool: ToolVersion.current, suite: suite, outputs: [], timeoutSeconds: output.timeoutSeconds)
            session.handleSignals()
            let side = enabled ? "B, control on" : "A, control off"
            let progress = ConsoleProgress(label: "\(label) block \(block + 1)/\(blocks) (\(side))", quiet: quiet)
            let document = session.run(output.ordered(blockPlan), progress: progress)
            if let control {
                recorded += control.eventsRecorded() ?? 0
                control.remove()
                on.append(document)
            } else {
                off.append(document)
            }
        }
        let before = pool(off, maxCV: maxCV), after = pool(on, maxCV: maxCV)
        let beforeLabel = "control off (A)", afterLabel = "control on (B: \(level.rawValue))"
        let report = SuiteCLI.orExit { () throws(SuiteError) in
            try SuiteComparison.compare(
                before: LoadedDocument(document: before, baseline: nil, label: beforeLabel, url: URL(fileURLWithPath: "/dev/null")),
                after: LoadedDocument(document: after, baseline: nil, label: afterLabel, url: URL(fileURLWithPath: "/dev/null")),
                settings: CompareSettings(), policy: policy)
        }
        let gated = report.comparison.metrics.filter { $0.gate }
        let caught = gated.filter { $0.gateVerdict == .regressed }
        let failed = after.cases.filter { $0.status == .failed } + before.cases.filter { $0.status == .failed }
        if output.json {
            struct Output: Encodable {
                let level: String, control: String, rounds: Int, blocks: String, pooling: String, policy: String
                let traceRecords: Int, gatedMetrics: Int, caught: Int, comparison: DocumentComparison
                enum CodingKeys: String, CodingKey {
                    case level, control, rounds, blocks, pooling, policy, comparison, caught
                    case traceRecords = "trace_records", gatedMetrics = "gated_metrics"
                }
            }
            do {
                let data = try ResultDocument.makeEncoder().encode(Output(
                    level: level.rawValue, control: level.describing, rounds: options.rounds, blocks: pattern(rounds: options.rounds),
                    pooling: poolingNote, policy: report.policySource, traceRecords: recorded, gatedMetrics: gated.count,
                    caught: caught.count, comparison: report.comparison))
                print(String(decoding: data, as: UTF8.self))
            } catch {
                fail("cannot encode the sensitivity report as JSON: \(error)", status: 1)
            }
        } else {
            CompareText.printWarnings(report)
            if options.verbose { print(CompareText.render(report, listInformational: true)) }
            print(render(report, level: level, rounds: options.rounds, recorded: recorded, instance: instance))
        }
        for item in failed { SuiteCLI.note("case failed: \(item.key): \(item.reason ?? "no reason given")") }
        Foundation.exit(failed.isEmpty ? 0 : ExitStatus.caseFailed)
    }

    static let poolingNote = "the repetitions of the A blocks are pooled and compared with the B blocks' pooled (first version: block-to-block variation is not modelled)"

    /// One document of the same cases from several blocks: every metric's samples in block order,
    /// a case that failed or was unsupported in any block takes that status.
    static func pool(_ documents: [ResultDocument], maxCV: Double) -> ResultDocument {
        guard var out = documents.first else { fatalError("pool of no blocks") }
        for document in documents.dropFirst() {
            for item in document.cases {
                guard let index = out.cases.firstIndex(where: { $0.key == item.key }) else {
                    out.cases.append(item)
                    continue
                }
                if item.status != .ok && out.cases[index].status == .ok {
                    out.cases[index].status = item.status
                    out.cases[index].reason = item.reason
                }
                for metric in item.metrics {
                    if let at = out.cases[index].metrics.firstIndex(where: { $0.name == metric.name }) {
                        for sample in metric.samples { out.cases[index].metrics[at].append(sample) }
                    } else {
                        out.cases[index].metrics.append(metric)
                    }
                }
                for note in item.notes where !out.cases[index].notes.contains(note) { out.cases[index].notes.append(note) }
            }
            out.finishedAt = document.finishedAt
        }
        for index in out.cases.indices { out.cases[index].summarise(maxCV: maxCV) }
        return out
    }

    static func render(_ report: ComparisonReport, level: ControlLevel, rounds: Int, recorded: Int, instance: String) -> String {
        let comparison = report.comparison
        let gated = comparison.metrics.filter { $0.gate }
        var lines: [String] = []
        lines.append("positive control: \(level.describing) (tracefs instance \(instance), removed again)")
        lines.append("blocks: \(pattern(rounds: rounds)) (A control off, B on); \(poolingNote)")
        lines.append("the control fired: \(recorded) trace record(s) written during the B blocks")
        lines.append("gate rule: \(report.policySource)")
        var rows: [[String]] = [["metric", "off (A)", "on (B)", "change [interval]", "threshold", "gate"]]
        var caseRows: [(key: String, rows: [[String]])] = []
        for metric in gated {
            let interval = metric.ratioInterval.map { " [" + $0.map { UnitFormatting.change($0 - 1) }.joined(separator: ", ") + "]" } ?? ""
            let verdict = metric.gateVerdict == .regressed ? "caught (regressed)" : "not caught (\(metric.verdict.rawValue))"
            let row = [metric.metric,
                       UnitFormatting.format(metric.beforeMedian, unit: metric.unit) + " n=\(metric.beforeSamples.count)",
                       UnitFormatting.format(metric.afterMedian, unit: metric.unit) + " n=\(metric.afterSamples.count)",
                       UnitFormatting.change(metric.change) + interval,
                       String(format: "%.0f%%", metric.threshold * 100), verdict]
            rows.append(row)
            let label = "\(metric.scenario) [" + metric.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") + "]"
            if caseRows.last?.key == label { caseRows[caseRows.count - 1].rows.append(row) } else { caseRows.append((label, [row])) }
        }
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        func line(_ row: [String]) -> String {
            "    " + row.indices.map { row[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        lines.append(line(rows[0]))
        for item in caseRows {
            lines.append("  " + item.key)
            lines += item.rows.map(line)
        }
        for item in comparison.uncompared { lines.append("  not compared: \(item.caseKey): \(item.kind): \(item.reason)") }
        let caught = gated.filter { $0.gateVerdict == .regressed }.count
        lines.append("sensitivity: the gate caught the control in \(caught) of \(gated.count) gated metric(s)")
        return lines.joined(separator: "\n")
    }
}
