import ArgumentParser
import Backings
import Foundation
import Pipeline
import Reporting
import Results
import Scenarios
import Statistics
import Suites

/// `kvmbench ab`: side A against side B in one boot, in alternating blocks, judged round by round.
struct ABCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ab",
        abstract: "Kernel A/B in one boot: run cases on side A and side B in alternating blocks and judge B against A (exit status as gate).",
        usage: """
        kvmbench ab run <scenario> [<scenario's flags>] <sides> [--rounds n] [--seed n] [<options>]
          kvmbench ab --suite <name> | --file <path> [<guest flags>] <sides> [--rounds n] [--seed n] [<options>]
          sides: --a-set PATH=VALUE / --b-set PATH=VALUE, --a-setup CMD / --b-setup CMD, --a-control / --b-control LEVEL
        """,
        discussion: """
        Both sides run in this boot, so they share its memory layout, its neighbours and its drift. The cases run \
        in rounds of two adjacent blocks, one per side; pairs of rounds mirror each other (AB BA or BA AB, chosen by \
        --seed), so each side runs first as often as second. Each block has the cases' warm-ups and repetitions. \
        Before each of its blocks a side is set up, after it undone:
          --a-set / --b-set PATH=VALUE (repeatable): a sysfs or /proc/sys setting (THP's enabled or defrag, a \
        writable KVM module parameter), recorded in the host-change ledger before it is written and restored \
        after each block, on an error, on SIGINT/SIGTERM, and after a SIGKILL by the next kvmbench;
          --a-setup / --b-setup CMD: a shell command, for anything else (it must undo itself, e.g. through the \
        other side's command);
          --a-control / --b-control event|stacktrace: the positive control of `kvmbench sensitivity` (a kvmmmu \
        trace event in kvmbench's own tracefs instance: real kernel work on every SPTE KVM installs).
        A side that cannot be set up (not root, no such file, a value the file does not offer, a setup command \
        that fails) is refused before any guest runs, with the reason.

        The verdict: per case and gated metric, d = log(B median / A median) in every round; a paired t-test over \
        the rounds (R - 1 degrees of freedom) with Holm's correction over the gated metrics. B regressed when the \
        change is significant and past the metric's threshold in the bad direction; unchanged when the whole \
        interval of B/A lies within the threshold; otherwise undecided, with the rounds that would decide it. \
        With --max-rounds M, an undecided run goes on 2 rounds at a time up to M rounds, judged after each pair; \
        every look tests at alpha / (number of looks), so the run keeps its false-alarm rate (Bonferroni). \
        Pairing removes the drift between rounds, which on one host is larger than the changes that matter.

        Outputs and exit status are the gate's: 0 every gated metric of B unchanged or improved, 2 a regression \
        (or a case or gated metric missing on B), 3 a case failed, 4 a side is unsupported here or a case ran on a \
        busy host, 5 undecided (run more rounds), 64 usage, 75 another kvmbench is measuring (--no-wait). An A/B \
        run is not a night: nothing is recorded in the history.

        Scenarios for run: \(ScenarioCatalog.names) (their flags: kvmbench run SCENARIO --help).

        \(SuiteAxisOptions.help)
        """)

    @Flag(name: .customLong("dry-run"), help: "Check the sides (without setting them) and the cases, list them and the block order, and run nothing.")
    var dryRun = false

    @Option(name: .customLong("suite"), help: "Run this suite's cases (Suites/NAME.yaml) on both sides.")
    var suite: String?

    @Option(name: .customLong("file"), help: "Run the suite file at this path on both sides.")
    var file: String?

    @Option(name: .customLong("a-set"), help: ArgumentHelp("Side A writes VALUE to the sysfs or /proc/sys file PATH before each of its blocks (restored after).", valueName: "PATH=VALUE"))
    var aSet: [String] = []

    @Option(name: .customLong("b-set"), help: ArgumentHelp("Side B writes VALUE to PATH before each of its blocks (restored after).", valueName: "PATH=VALUE"))
    var bSet: [String] = []

    @Option(name: .customLong("a-setup"), help: ArgumentHelp("Side A runs this shell command before each of its blocks.", valueName: "command"))
    var aSetup: String?

    @Option(name: .customLong("b-setup"), help: ArgumentHelp("Side B runs this shell command before each of its blocks.", valueName: "command"))
    var bSetup: String?

    @Option(name: .customLong("a-control"), help: ArgumentHelp("Side A runs with the positive control on (see kvmbench sensitivity).", valueName: "event|stacktrace"))
    var aControl: String?

    @Option(name: .customLong("b-control"), help: ArgumentHelp("Side B runs with the positive control on: a known kernel-side slowdown.", valueName: "event|stacktrace"))
    var bControl: String?

    @Option(help: ArgumentHelp("Rounds (one block per side each): \(ABCommand.roundRange.lowerBound) ... \(ABCommand.roundRange.upperBound).", valueName: "n"))
    var rounds: Int = 4

    @Option(name: .customLong("max-rounds"), help: ArgumentHelp("While a gated metric is undecided, run 2 more rounds at a time up to this many (each look at the rounds tests at alpha / looks).", valueName: "n"))
    var maxRounds: Int?

    @Option(help: ArgumentHelp("Seed of the block order (default: a random one, printed).", valueName: "n"))
    var seed: UInt64?

    @OptionGroup var axes: SuiteAxisOptions

    @OptionGroup var output: OutputOptions

    @OptionGroup var flags: ComparisonFlags

    @OptionGroup var exports: FleetExportOptions

    @Flag(name: .shortAndLong, help: "Also print the whole comparison, informational metrics included.")
    var verbose = false

    static let roundRange = 2...50

    func validate() throws {
        if suite != nil, file != nil { throw ValidationError("give at most one of --suite and --file") }
        guard Self.roundRange.contains(rounds) else {
            throw ValidationError("--rounds takes \(Self.roundRange.lowerBound) ... \(Self.roundRange.upperBound) (a paired test needs two rounds at least), not \(rounds)")
        }
        if let maxRounds, !(rounds...Self.roundRange.upperBound).contains(maxRounds) {
            throw ValidationError("--max-rounds takes \(rounds) (--rounds) ... \(Self.roundRange.upperBound), not \(maxRounds)")
        }
        for level in [aControl, bControl].compactMap({ $0 }) where ControlLevel(rawValue: level) == nil {
            throw ValidationError("--a-control/--b-control take event or stacktrace, not '\(level)'")
        }
        if output.output != nil { throw ValidationError("-o/--output is not for ab (it measures two sides); use --json, --html or --markdown") }
        let a = try side(.a), b = try side(.b)
        if a.isEmpty && b.isEmpty {
            throw ValidationError("give what makes the sides differ: --a-set/--b-set PATH=VALUE, --a-setup/--b-setup CMD or --a-control/--b-control LEVEL")
        }
    }

    /// The side as the flags describe it; a malformed PATH=VALUE is a usage error.
    func side(_ which: ABSide) throws -> SideSetup {
        let sets = which == .a ? aSet : bSet
        var settings: [HostSetting] = []
        for text in sets {
            do { settings.append(try HostSetting(parsing: text)) } catch {
                throw ValidationError("--\(which == .a ? "a" : "b")-set: \(error)")
            }
        }
        let control = (which == .a ? aControl : bControl).flatMap(ControlLevel.init(rawValue:))
        return SideSetup(side: which, settings: settings, command: which == .a ? aSetup : bSetup, control: control)
    }

    func run() throws {
        let sides = [try side(.a), try side(.b)]
        let selection = CaseSelection.select(suite: suite, file: file, axes: axes, output: output, command: "kvmbench ab") {
            for side in sides {
                if let problem = side.problem() { fail("ab: side \(side.side.rawValue) is unsupported here: \(problem)", status: ExitStatus.baselineProblem) }
            }
        }
        if dryRun {
            let order = ABOrder(rounds: maxRounds ?? rounds, seed: seed ?? 1)
            print("ab \(selection.plan.label): \(selection.plan.cases.count) case(s) on each side; A = \(sides[0].summary); B = \(sides[1].summary)")
            print("  blocks \(order.pattern)\(seed == nil ? " (seed 1 shown; a run draws its own seed unless --seed)" : " (seed \(order.seed))")")
            for notice in selection.plan.notices { print("  notice: \(notice)") }
            PlanExecution.listCases(selection.plan.cases)
            return
        }
        holdMeasurementLock(wait: !output.noWait)
        // Each side is set up once and undone before the first guest: a side that cannot be set up
        // is refused before anything is measured.
        for side in sides {
            do {
                try side.enter().leave()
            } catch {
                fail("ab: side \(side.side.rawValue) cannot be set up: \(error)", status: ExitStatus.baselineProblem)
            }
        }
        let most = maxRounds ?? rounds
        let order = ABOrder(rounds: most, seed: seed ?? UInt64.random(in: 0...UInt64(UInt32.max)))
        // The rounds are judged after `rounds`, then after every further pair while undecided.
        let looks = 1 + (most - rounds + 1) / 2
        let quiet = output.quiet || output.json || output.ktap
        if !quiet {
            SuiteCLI.note("ab: \(selection.plan.label): A = \(sides[0].summary); B = \(sides[1].summary)")
            let growth = most > rounds ? "; while undecided 2 more at a time up to \(most), each of the \(looks) looks at alpha / \(looks)" : ""
            SuiteCLI.note("ab: \(rounds) rounds\(growth); blocks \(order.pattern) (seed \(order.seed))")
            for notice in selection.plan.notices { SuiteCLI.note("notice: \(notice)") }
        }
        var documents: [ABSide: [ResultDocument]] = [.a: [], .b: []]
        var done = 0
        var judged: (outcome: GateOutcome, base: LoadedDocument, after: LoadedDocument)?
        while done < most {
            let target = done == 0 ? rounds : min(most, done + 2)
            for index in (2 * done)..<(2 * target) {
                let which = order.blocks[index]
                documents[which, default: []].append(measure(block: index, side: sides[which == .a ? 0 : 1],
                                                             selection: selection, quiet: quiet))
            }
            done = target
            judged = judge(documents, sides: sides, selection: selection, looks: looks)
            guard let outcome = judged?.outcome, outcome.status == .inconclusive, done < most else { break }
            if !quiet { SuiteCLI.note("ab: after \(done) rounds \(outcome.undecided.count) gated metric(s) undecided: 2 more rounds") }
        }
        guard let (outcome, base, after) = judged else { fail("ab: no block ran", status: 1) }
        if !output.json && !output.ktap && !verbose {
            print(Self.roundTable(outcome.report.comparison))
            if let stats = Self.mappingTable(a: documents[.a] ?? [], b: documents[.b] ?? []) { print(stats) }
        }
        GateRendering(output: output, flags: flags, exports: exports, verbose: verbose).render(outcome, base: base, after: after)
        let status = GateRendering.exitStatus(of: outcome.status)
        if status != 0 { throw ExitCode(status) }
    }

    /// Block `index`: the side set up, the cases run, the side undone.
    func measure(block index: Int, side: SideSetup, selection: CaseSelection, quiet: Bool) -> ResultDocument {
        let active: ActiveSide
        do {
            active = try side.enter()
        } catch {
            fail("ab: side \(side.side.rawValue) cannot be set up for block \(index + 1): \(error)", status: 1)
        }
        let session = RunSession(host: selection.host, tool: ToolVersion.current, suite: selection.plan.suite, outputs: [],
                                 timeoutSeconds: output.timeoutSeconds)
        session.handleSignals()
        let progress = ConsoleProgress(label: "\(selection.plan.label) round \(index / 2 + 1) side \(side.side.rawValue)", quiet: quiet)
        let document = session.run(output.ordered(selection.blockPlan), progress: progress)
        active.leave()
        return document
    }

    /// B against A over the rounds measured so far.
    func judge(_ documents: [ABSide: [ResultDocument]], sides: [SideSetup], selection: CaseSelection,
               looks: Int) -> (outcome: GateOutcome, base: LoadedDocument, after: LoadedDocument)? {
        guard let a = RoundDocuments.combine(documents[.a] ?? [], maxCV: selection.plan.maxCV),
              let b = RoundDocuments.combine(documents[.b] ?? [], maxCV: selection.plan.maxCV) else { return nil }
        let base = LoadedDocument(document: a, baseline: nil, label: "A (\(sides[0].summary))", url: URL(fileURLWithPath: "/dev/null"))
        let after = LoadedDocument(document: b, baseline: nil, label: "B (\(sides[1].summary))", url: URL(fileURLWithPath: "/dev/null"))
        var settings = SuiteCLI.orExit { () throws(SuiteError) in try flags.settings() }
        settings.replication = .pairedRounds(looks: looks)
        // The sides differ on purpose in what they set (THP shows in the host fingerprint).
        settings.allowOtherHost = true
        let outcome = SuiteCLI.orExit { () throws(SuiteError) in
            try Gate.evaluate(baseline: base, result: after, settings: settings, suite: selection.definition)
        }
        return (outcome, base, after)
    }

    /// The gated metrics round by round: A and B medians and their change, then the verdict. A case
    /// is named by its scenario and the parameters in which the compared cases differ.
    static func roundTable(_ comparison: DocumentComparison) -> String {
        let gated = comparison.metrics.filter(\.gate)
        let varying = Set(gated.flatMap(\.parameters.keys)).filter { key in Set(gated.map { $0.parameters[key] }).count > 1 }.sorted()
        var table = TextTable(columns: [.init("case"), .init("metric"), .init("rounds: A -> B"), .init("B/A [interval]"), .init("verdict")])
        for metric in gated {
            let label = ([metric.scenario] + varying.compactMap { key in metric.parameters[key].map { "\(key)=\($0)" } })
                .joined(separator: " ")
            let pairs = zip(metric.beforeSamples, metric.afterSamples).map { a, b in
                "\(UnitFormatting.format(a, unit: metric.unit)) -> \(UnitFormatting.format(b, unit: metric.unit))"
            }
            let interval = metric.ratioInterval.map { String(format: " [%.3f, %.3f]", $0[0], $0[1]) } ?? ""
            table.append([TextTable.Cell(label), TextTable.Cell(metric.metric), TextTable.Cell(pairs.joined(separator: ", ")),
                          TextTable.Cell(UnitFormatting.change(metric.change) + interval), TextTable.Cell(metric.verdict.rawValue)])
        }
        return table.render(colour: SuiteCLI.colour)
    }
}

extension ABCommand {
    /// KVM's own counts of what it mapped and faulted, per case and side (the median over the side's
    /// blocks): shows what a side changed in the MMU (THP off: pages_2m to 0, pages_4k up). Nil
    /// when no case recorded them.
    static func mappingTable(a: [ResultDocument], b: [ResultDocument]) -> String? {
        let stats = ["pages_4k", "pages_2m", "pages_1g", "pf_taken"]
        func median(_ side: [ResultDocument], _ key: String, _ stat: String) -> Double? {
            let values = side.compactMap { $0.cases.first { $0.key == key }?.kvmStats[stat] }.map(Double.init)
            return values.isEmpty ? nil : Summary.median(of: values)
        }
        var table = TextTable(columns: [.init("case"), .init("KVM stat"), .init("A (median of blocks)", .right),
                                        .init("B (median of blocks)", .right)])
        for item in a.first?.cases ?? [] {
            for stat in stats {
                guard let before = median(a, item.key, stat), let after = median(b, item.key, stat) else { continue }
                table.append([TextTable.Cell(item.scenario), TextTable.Cell(stat), TextTable.Cell(String(format: "%.0f", before)),
                              TextTable.Cell(String(format: "%.0f", after))])
            }
        }
        guard !table.rows.isEmpty else { return nil }
        return table.render(colour: SuiteCLI.colour)
    }
}

/// What one side of an A/B run sets up before each of its blocks.
struct SideSetup {
    let side: ABSide
    let settings: [HostSetting]
    let command: String?
    let control: ControlLevel?

    var isEmpty: Bool { settings.isEmpty && command == nil && control == nil }

    /// "THP enabled=never" for people: what the side changes, or "as found".
    var summary: String {
        var parts = settings.map(\.description)
        if let command { parts.append("setup `\(command)`") }
        if let control { parts.append("positive control (\(control.rawValue))") }
        return parts.isEmpty ? "the host as found" : parts.joined(separator: ", ")
    }

    /// Why the side cannot run here (checked before /dev/kvm is opened), or nil.
    func problem() -> String? {
        for setting in settings { if let problem = setting.problem() { return problem } }
        if control != nil, let problem = TracefsControl.precheck() { return "\(problem)" }
        return nil
    }

    /// Sets the side up: settings first (each recorded before it is written), then the command, then
    /// the control. Anything already applied is undone when a later step fails.
    func enter() throws -> ActiveSide {
        var active = ActiveSide()
        do {
            for setting in settings { active.settings.append(try setting.apply()) }
            if let command { try SetupCommand.run(command, side: side) }
            if let control { active.control = try TracefsControl.apply(control) }
        } catch {
            active.leave()
            throw error
        }
        return active
    }
}

/// A side's changes while its block runs.
struct ActiveSide {
    var settings: [AppliedHostSetting] = []
    var control: TracefsControl?

    /// Undoes the side's changes, newest first.
    func leave() {
        control?.remove()
        for setting in settings.reversed() { setting.restore() }
    }
}

/// A side's setup command, through /bin/sh.
enum SetupCommand {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func run(_ command: String, side: ABSide) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.environment = ProcessInfo.processInfo.environment.merging(["KVMBENCH_AB_SIDE": side.rawValue]) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch {
            throw Failure(description: "cannot start /bin/sh for `\(command)`: \(error)")
        }
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let tail = text.split(separator: "\n").suffix(3).joined(separator: " | ")
            throw Failure(description: "`\(command)` exited with status \(process.terminationStatus)\(tail.isEmpty ? "" : ": \(tail)")")
        }
    }
}
