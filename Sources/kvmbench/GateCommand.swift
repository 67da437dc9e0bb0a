import ArgumentParser
import Foundation
import Backings
import History
import Pipeline
import Reporting
import Results
import Suites

struct GateCommand: ParsableCommand, HistoryPoolHelp {
    static let lastHelp = "Against the history: how many of this host's latest accepted runs to judge against (and the most a metric may need)."

    /// The suite `kvmbench gate` runs when given none.
    static let defaultSuite = "nightly"

    static let configuration = CommandConfiguration(
        commandName: "gate",
        abstract: "The regression gate: run a suite (or read a result), judge it against this host's history or a baseline; the exit status says whether it regressed.",
        usage: "kvmbench gate [--suite <name> | --file <path> | --result <file>] [--baseline <name>] [<options>]",
        discussion: """
        With no arguments, `kvmbench gate` runs the nightly suite and judges it against this host's history: per \
        case and metric, the medians of this host's last --last accepted runs of the same suite (the run is the \
        unit: repetitions of one run share what varies from run to run). A night is regressed when its median is \
        significantly off the earlier runs' (a prediction t-test with Holm's correction over the night's gated \
        metrics) and further than the metric's threshold in the bad direction. A host starts by collecting \
        history: until a metric has enough earlier runs (3, or more when its runs vary more than its threshold \
        allows) it does not gate, the gate says how many runs it has and needs, and exits 0. A run joins the \
        history's pool only through a gate that passed (or `kvmbench history accept`).

        --budget DURATION (against the history): repetitions until decided. A gated metric left undecided \
        whose runs vary within themselves more than as wholes gets its case run again (the suite's repetitions \
        once more, the undecided cases interleaved), and the night is judged again with the within-run part of \
        its median shrunk by the extra repetitions, until every gated metric is decided or the next extension \
        would take the night past DURATION from its start. Look k tests at alpha / 2^k, so the night's \
        false-alarm rate over all its looks stays below alpha (a metric whose runs vary as wholes is not \
        extended: more repetitions cannot decide it; the gate says so). The night is recorded with every \
        repetition it ran.

        --baseline NAME judges against one pinned baseline instead (labs that keep one): its recorded suite is \
        run unless --suite / --file / --result says otherwise, and a baseline that is missing, a reference, or \
        from another host (anything but the kernel release differs, unless --allow-other-host; another MMU or \
        an emulated CPU always) is refused before anything runs. Repetitions against repetitions there: a \
        metric regresses when the change is significant (Mann-Whitney p < alpha and the whole bootstrap \
        interval of the median ratio beyond the threshold) in the bad direction.

        The policy (which metrics gate, thresholds, alpha) is the gate section of --suite / --file when given \
        (also with --result), else of the suite run, else of the suite recorded in the baseline, else defaults; \
        never the suite recorded in the result being judged. A case measured before and missing from the \
        result or unsupported there, or a gated metric missing from a case, fails the gate like a regression. \
        A gated metric that cannot be decided (the earlier runs or samples cannot rule out a change past its \
        threshold, or noisy: robust spread above the limit or measured while other processes used more than \
        max_host_busy of the CPUs) makes the gate inconclusive.

        Exit status, the first that applies: 4 the baseline is missing, unreadable, from a newer kvmbench or a \
        reference, the two share no cases, the hosts differ (see above), or the result is from an interrupted \
        run; 3 a case failed; 2 a significant regression of a gated metric, or a case or gated metric missing \
        from the result; 4 no regression but some case ran on a busy host (or nothing was comparable); 5 \
        inconclusive: a gated metric could not be decided; 0 every gated metric unchanged or improved, or still \
        collecting history. 64 usage, 1 other error.

        \(SuiteAxisOptions.help)
        """)

    @Option(name: .customLong("baseline"), help: "Judge against this baseline (a baseline name or a result file) instead of this host's history.")
    var baseline: String?

    @Option(name: .customLong("against"), help: ArgumentHelp("`history` (the default): judge against this host's last --last accepted runs in the history database.", visibility: .hidden))
    var against: String?

    @OptionGroup var pool: HistoryPoolOptions<GateCommand>

    @Option(name: .customLong("suite"), help: "Run this suite (default: nightly against the history, the baseline's recorded suite against a baseline).")
    var suite: String?

    @Option(name: .customLong("file"), help: "Run the suite file at this path.")
    var file: String?

    @Option(name: .customLong("result"), help: "Gate this result file instead of running anything (with --suite/--file: under that suite's gate policy).")
    var result: String?

    @OptionGroup var axes: SuiteAxisOptions

    @OptionGroup var output: OutputOptions

    @OptionGroup var flags: ComparisonFlags

    @OptionGroup var exports: FleetExportOptions

    @Flag(name: .customLong("allow-other-host"), help: "Gate against a baseline even when the hosts differ in more than the kernel release (CPU, online CPUs, memory, NUMA nodes, guest or not, KVM module and parameters, THP, kernel command line, microcode).")
    var allowOtherHost = false

    @OptionGroup var history: HistoryRecordingOptions

    @Flag(name: .customLong("positive-control"), help: "After the night's gate, run the suite once more with a real kernel-side slowdown in KVM's MMU (a kvmmmu trace event, as `kvmbench sensitivity`) and report, per gated metric, whether the same gate would have caught it. Never recorded in the history; the exit status is the night's.")
    var positiveControl = false

    @Option(name: .customLong("control-level"), help: ArgumentHelp("With --positive-control: event (\(ControlLevel.event.describing)) or stacktrace (the default, a larger cost).", valueName: "event|stacktrace"))
    var controlLevel: String = ControlLevel.stacktrace.rawValue

    @Option(name: .customLong("budget"), help: ArgumentHelp("Repetitions until decided: while a gated metric is undecided and more repetitions could decide it, run its case again (as many repetitions as planned, the undecided cases interleaved) and judge again, until every gated metric is decided or the next extension would take the night past this time (10m, 600s; counted from the start). Each look tests at alpha/2^k. Against the history only.", valueName: "duration"))
    var budget: String?

    @Flag(name: .customLong("dry-run"), help: "Check everything that can refuse the gate and list the suite's cases, without running them or recording anything.")
    var dryRun = false

    @Flag(name: .shortAndLong, help: "Also print the whole comparison, informational metrics included.")
    var verbose = false

    func validate() throws {
        if suite != nil, file != nil { throw ValidationError("give at most one of --suite and --file") }
        if baseline != nil, against != nil { throw ValidationError("give either --baseline NAME or --against history, not both") }
        if let against, against != "history" { throw ValidationError("--against takes only `history`, not \(against)") }
        if let budget {
            if GateBudget.seconds(parsing: budget) == nil {
                throw ValidationError("--budget \(budget): not a duration; give minutes or seconds above zero, like 10m or 600s")
            }
            if baseline != nil { throw ValidationError("--budget extends a night judged against the history; a --baseline gate compares two documents") }
            if result != nil { throw ValidationError("--budget runs more repetitions; with --result nothing runs") }
        }
    }

    func run() throws {
        if positiveControl {
            if result != nil { fail("--positive-control runs the suite with the control on; with --result nothing runs", status: ExitStatus.usage) }
            if ControlLevel(rawValue: controlLevel) == nil { fail("--control-level takes event or stacktrace, not '\(controlLevel)'", status: ExitStatus.usage) }
            // Refused before the night's run, not after it.
            if !dryRun, let problem = TracefsControl.precheck() { fail("gate --positive-control: unsupported: \(problem)", status: ExitStatus.baselineProblem) }
        }
        if dryRun && result != nil { fail("--dry-run lists the suite a gate would run; with --result nothing runs (leave out --dry-run)", status: ExitStatus.usage) }
        var settings = SuiteCLI.orExit { () throws(SuiteError) in try flags.settings() }
        settings.allowOtherHost = allowOtherHost
        let named = baseline.map { baseline in SuiteCLI.orExit { () throws(SuiteError) in try DocumentArgument.load(baseline, store: BaselineStore()) } }
        let given = suite != nil || file != nil
            ? SuiteCLI.orExit { () throws(SuiteError) in try SuiteCLI.loadSuite(name: suite, file: file) } : nil
        let started = Date()
        let (night, ran, overrides) = try judged(named: named, given: given, settings: settings)
        var after = night
        let base: LoadedDocument
        var look = RunLook.single
        if let named {
            base = named
        } else {
            base = history.runSeries(for: after.document, last: pool.last)
            if budget != nil { look = RunLook(index: 1, sequential: true, historyRepetitions: plannedRepetitions(ran, overrides)) }
            settings.replication = .runs(runLimit: pool.last, look: look)
        }
        let policySuite = given ?? (named == nil ? ran : nil)
        var outcome = SuiteCLI.orExit { () throws(SuiteError) in
            try Gate.evaluate(baseline: base, result: after, settings: settings, suite: policySuite)
        }
        if let budget, let seconds = GateBudget.seconds(parsing: budget), let ran, let overrides {
            (after, outcome) = try extendUndecided(after, outcome: outcome, base: base, suite: ran, overrides: overrides,
                                                   budget: GateBudget(seconds: seconds, started: started), look: look,
                                                   settings: settings, policySuite: policySuite)
        }
        render(outcome, base: base, after: after)
        history.record(after.document, source: after.url.path, acceptance: acceptance(of: outcome, against: base.label))
        if positiveControl, let ran, let overrides {
            try runPositiveControl(suite: ran, overrides: overrides, base: base, night: after, settings: settings)
        }
        let status = GateRendering.exitStatus(of: outcome.status)
        if status != 0 { throw ExitCode(status) }
    }

    /// The after side: --result, else a run of the suite (given, else the baseline's recorded one,
    /// else nightly), after everything that can refuse the gate was checked on this host. Also
    /// returns the suite that ran, if one did.
    func judged(named: LoadedDocument?, given: SuiteDefinition?, settings: CompareSettings) throws -> (LoadedDocument, SuiteDefinition?, SuiteOverrides?) {
        if let result {
            let loaded = SuiteCLI.orExit { () throws(SuiteError) in try DocumentLoader.load(URL(fileURLWithPath: result), label: result) }
            return (loaded, nil, nil)
        }
        let definition = SuiteCLI.orExit { () throws(SuiteError) -> SuiteDefinition in
            if let given { return given }
            guard let named else { return try SuiteLibrary().load(Self.defaultSuite) }
            guard let record = named.document.suite else {
                throw SuiteError(.usage, "\(named.label) records no suite: give --suite NAME, --file PATH or --result FILE")
            }
            return try SuiteParser.parse(record.definition, file: "suite record of \(named.label)")
        }
        let (parsed, overrides) = SuiteCLI.orExit { () throws(SuiteError) in
            try SuiteCLI.overrides(axes, output: output, command: "kvmbench gate")
        }
        if let word = parsed.positional.first { fail("unexpected argument '\(word)' (the suite is --suite NAME)", status: ExitStatus.usage) }
        if let named {
            let host = openHost().fingerprint
            SuiteCLI.orExit { () throws(SuiteError) in
                try Gate.refuse(baseline: named, host: host, label: "this host", settings: settings)
            }
        }
        guard let (document, url) = try SuiteCLI.runSuite(definition, overrides: overrides, output: output, dryRun: dryRun,
                                                          printResults: verbose && !output.json && !output.ktap,
                                                          history: history.location.path) else {
            if dryRun { throw ExitCode.success }
            fail("the suite did not run", status: 1)
        }
        // Measured by this kvmbench, and upgraded as the loader upgrades the baseline: a key the
        // current code records only in some cases reads the same on both sides.
        return (CurrentDeclarations.upgrade(LoadedDocument(document: document, baseline: nil, label: url.path, url: url)), definition, overrides)
    }

    /// The positive control after the night: the same suite once more with the trace event on
    /// (tracefs restored as found on every path, through the host-change ledger), judged against
    /// the same before side by the same rule. Prints, per gated metric, the effect the control
    /// had (its run against the night's, same boot, minutes apart) and whether the gate caught it;
    /// records nothing in the history.
    func runPositiveControl(suite: SuiteDefinition, overrides: SuiteOverrides, base: LoadedDocument, night: LoadedDocument,
                            settings: CompareSettings) throws {
        let level = ControlLevel(rawValue: controlLevel) ?? .stacktrace
        let control: TracefsControl
        do { control = try TracefsControl.apply(level) } catch {
            fail("gate --positive-control: cannot turn the control on: \(error) (the night's gate above stands)", status: ExitStatus.baselineProblem)
        }
        SuiteCLI.note("positive control: \(level.describing); running the suite again")
        var controlOutput = output
        controlOutput.output = nil
        let ran = try SuiteCLI.runSuite(suite, overrides: overrides, output: controlOutput, dryRun: false, printResults: false,
                                        history: history.location.path)
        let records = control.eventsRecorded() ?? 0
        control.remove()
        guard let (document, url) = ran else { return }
        let controlled = CurrentDeclarations.upgrade(LoadedDocument(document: document, baseline: nil, label: "positive control (\(url.path))", url: url))
        let outcome = SuiteCLI.orExit { () throws(SuiteError) in
            try Gate.evaluate(baseline: base, result: controlled, settings: settings, suite: suite)
        }
        // The injected effect itself: the control's run against the night's.
        let effect = SuiteCLI.orExit { () throws(SuiteError) in
            try SuiteComparison.compare(before: night, after: controlled, policy: (suite.gate, "suite \(suite.name)"))
        }
        func ids(_ metrics: [MetricComparison]) -> Set<String> { Set(metrics.map(\.gatedID)) }
        let caught = ids(outcome.regressions), collecting = ids(outcome.collecting), undetectable = ids(outcome.undetectable)
        let judged = Dictionary(outcome.report.comparison.metrics.map { ($0.gatedID, $0) }) { first, _ in first }
        var table = TextTable(columns: [.init("case"), .init("metric"), .init("effect (on/off)", .right),
                                        .init("vs history", .right), .init("threshold", .right), .init("gate")])
        let gated = effect.comparison.metrics.filter { $0.gate }
        for metric in gated {
            let id = metric.gatedID
            let verdict = caught.contains(id) ? "caught"
                : collecting.contains(id) ? "not judged (collecting history)"
                : undetectable.contains(id) ? "not decidable at its threshold here"
                : "missed (\(metric.verdict.rawValue))"
            let label = metric.scenario + " " + metric.parameters.sorted { $0.key < $1.key }
                .filter { ["vcpus", "backing", "slots", "slots_effective", "dirty_mode", "mem_per_vcpu", "guest_page_size"].contains($0.key) }
                .map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            table.append([.init(label), .init(metric.metric), .init(UnitFormatting.change(metric.change)),
                          .init(judged[id].map { UnitFormatting.change($0.change) } ?? "-"),
                          .init(String(format: "%.0f%%", metric.threshold * 100)), .init(verdict)])
        }
        let stream = FileHandle.standardError
        stream.write(Data("\npositive control (\(level.rawValue): \(records) trace record(s)) against \(base.label):\n".utf8))
        stream.write(Data(table.render(colour: false).utf8))
        stream.write(Data("positive control: the gate caught it in \(caught.count) of \(gated.count) gated metric(s); \(collecting.count) still collecting history, \(undetectable.count) not decidable here (never recorded in the history)\n".utf8))
    }

    /// The measured repetitions the suite plans per case (what each night of the history had).
    func plannedRepetitions(_ suite: SuiteDefinition?, _ overrides: SuiteOverrides?) -> Int? {
        guard let suite else { return nil }
        let applied = overrides.flatMap { try? SuitePlanner.apply($0, to: suite) } ?? suite
        return applied.repetitions
    }

    /// `--budget`: while gated metrics are undecided and more repetitions could decide them, runs
    /// their cases again, merges the samples into the night (rewriting its result file) and judges
    /// the night again at the next look's alpha (see `GateBudget`).
    func extendUndecided(_ night: LoadedDocument, outcome: GateOutcome, base: LoadedDocument, suite: SuiteDefinition,
                         overrides: SuiteOverrides, budget: GateBudget, look: RunLook, settings: CompareSettings,
                         policySuite: SuiteDefinition?) throws -> (LoadedDocument, GateOutcome) {
        var night = night, outcome = outcome, look = look, settings = settings
        let quiet = output.quiet || output.json || output.ktap
        let applied = SuiteCLI.orExit { () throws(SuiteError) in try SuitePlanner.apply(overrides, to: suite) }
        let host = openHost()
        let plan = SuiteCLI.orExit { () throws(SuiteError) in try SuitePlanner.plan(applied, limits: host.limits) }
        var said = Set<String>()
        /// The planned cases behind the night's cases `keys` (a night's case may carry parameters
        /// its scenario decided while running, such as the effective slot count).
        func planned(_ keys: Set<String>) -> [PlannedCase] {
            let targets = night.document.cases.filter { keys.contains($0.key) }
            return plan.cases.filter { item in
                targets.contains { target in
                    target.scenario == item.name && item.scenario.parameters.allSatisfy { target.parameters[$0.key] == $0.value }
                }
            }
        }
        while true {
            let (keys, skipped) = GateBudget.casesToExtend(outcome)
            for line in skipped where said.insert(line).inserted && !quiet { SuiteCLI.note("budget: not extended: \(line)") }
            guard !keys.isEmpty else { break }
            let elapsed = Date().timeIntervalSince(budget.started)
            let cases = planned(keys)
            let expected = GateBudget.estimate(night.document, keys: keys, settings: cases.map(\.settings))
            guard elapsed + expected <= budget.seconds else {
                if !quiet { SuiteCLI.note("budget: \(keys.count) undecided case(s) would take ~\(UnitFormatting.duration(expected)) more; \(UnitFormatting.duration(budget.seconds - elapsed)) of the budget left: judged as it stands (look \(look.index))") }
                break
            }
            look = look.next
            if !quiet { SuiteCLI.note("budget: look \(look.index) (alpha \(String(format: "%g", look.alpha(applied.gate.alpha)))): \(keys.count) undecided case(s) get their repetitions again (~\(UnitFormatting.duration(expected)))") }
            var extension_ = plan.run
            extension_.cases = cases
            extension_.label = "\(plan.suite.name) budget look \(look.index)"
            let session = RunSession(host: host, tool: ToolVersion.current, suite: extension_.suite, outputs: [],
                                     timeoutSeconds: output.timeoutSeconds)
            session.handleSignals()
            let extra = session.run(output.ordered(extension_), progress: ConsoleProgress(label: extension_.label, quiet: quiet))
            let merged = GateBudget.merge(extra, into: night.document, maxCV: applied.gate.maxCV)
            try? AtomicFile.write(merged.encoded(), to: night.url)
            night = CurrentDeclarations.upgrade(LoadedDocument(document: merged, baseline: nil, label: night.label, url: night.url))
            settings.replication = .runs(runLimit: pool.last, look: look)
            outcome = SuiteCLI.orExit { () throws(SuiteError) in
                try Gate.evaluate(baseline: base, result: night, settings: settings, suite: policySuite)
            }
        }
        return (night, outcome)
    }


    func render(_ outcome: GateOutcome, base: LoadedDocument, after: LoadedDocument) {
        GateRendering(output: output, flags: flags, exports: exports, verbose: verbose).render(outcome, base: base, after: after)
    }

    /// Whether the judged run joins the history's pool: only when the gate passed (a night that
    /// was still collecting history passes).
    func acceptance(of outcome: GateOutcome, against label: String) -> RunAcceptance {
        guard outcome.status == .pass else {
            return RunAcceptance(accepted: false, reason: "gate \(outcome.status.rawValue) against \(label)")
        }
        if outcome.onlyCollecting { return RunAcceptance(accepted: true, reason: "collecting history (\(label))") }
        return RunAcceptance(accepted: true, reason: "gate passed against \(label)")
    }
}
