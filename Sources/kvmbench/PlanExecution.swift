import ArgumentParser
import Foundation
import History
import Host
import Pipeline
import Reporting
import Results
import Scenarios

/// The one way a command measures a plan (`run`, `suite`, `gate`): pre-flight before the first
/// guest, a listing for --dry-run, the measurement lock, the run session (derived metrics
/// included), and the results printed as tables, JSON or KTAP, with each scenario's appendix.
enum PlanExecution {
    /// Refuses a plan the host cannot run (each refusal on a line, exit 64), raises the open-file
    /// limit to what its largest case needs, and prints its notices.
    /// A dry run (`needsDevice` false) checks everything but the KVM device, so a plan can be
    /// validated on a machine without one.
    static func preflight(_ plan: RunPlan, outputs: [String], needsDevice: Bool = true) {
        let device = needsDevice ? ProcessInfo.processInfo.environment["KVMBENCH_DEVICE"] ?? "/dev/kvm" : nil
        let outcome = RunPreflight.check(plan, outputPaths: outputs, device: device)
        if let last = outcome.refusals.last {
            for refusal in outcome.refusals.dropLast() { FileHandle.standardError.write(Data("kvmbench: \(refusal)\n".utf8)) }
            fail(last, status: ExitStatus.usage)
        }
        if let files = outcome.openFiles { Preflight.raiseFileLimit(to: UInt64(files)) }
        for notice in outcome.notices { FileHandle.standardError.write(Data("kvmbench: notice: \(notice)\n".utf8)) }
    }

    /// One scenario's plan from its command-line flags (`kvmbench run S`, `ab run S`,
    /// `sensitivity run S`), validated against this host's limits, and the host it was opened on;
    /// bad input exits 64 with one line. `beforeHost` runs after the flags are checked and before
    /// /dev/kvm is opened.
    static func scenarioPlan(_ type: any Scenario.Type, flags: [String], settings: RunSettings,
                             beforeHost: () -> Void = {}) -> (RunPlan, HostSession) {
        let parsed: CommandLineParameters
        do {
            parsed = try CommandLineParameters.parse(flags, table: type.parameterTable, command: "kvmbench run \(type.name)")
        } catch {
            fail(error.message, status: ExitStatus.usage)
        }
        if let word = parsed.positional.first { fail("unexpected argument '\(word)' (parameters are flags: --vcpus 1,2)", status: ExitStatus.usage) }
        do { try RunPlan.checkNotEmpty(parsed.lists) } catch { fail(error.message, status: ExitStatus.usage) }
        beforeHost()
        let host = openHost()
        do {
            return (try RunPlan.scenario(type, lists: parsed.lists, settings: settings, limits: host.limits), host)
        } catch {
            fail(error.message, status: ExitStatus.usage)
        }
    }

    /// Checks, then runs `plan` and prints its results (unless `printResults` is false), writing
    /// the document to `outputs` after every case. With `dryRun`, prints the cases under `heading`
    /// and returns nil without opening the measurement lock.
    ///
    /// `history` is where this host's earlier repetition times are read for the progress line's
    /// estimate (the default history when nil); nothing is written there.
    static func execute(_ plan: RunPlan, host: HostSession, output: OutputOptions, outputs: [URL], dryRun: Bool,
                        heading: String, printResults: Bool = true, history: String? = nil) throws -> ResultDocument? {
        // Only a path the user gave (-o) is checked: the default Reports/ folder is made when missing.
        preflight(plan, outputs: output.output.map { [$0] } ?? [], needsDevice: !dryRun)
        let plan = output.ordered(plan)
        if dryRun {
            print("\(heading): \(plan.cases.count) case(s), order \(plan.order.kind.rawValue)\(output.orderSeed.map { " (seed \($0))" } ?? "")")
            for notice in plan.notices { print("  notice: \(notice)") }
            listCases(plan.cases)
            return nil
        }
        holdMeasurementLock(wait: !output.noWait)
        let session = RunSession(host: host, tool: ToolVersion.current, suite: plan.suite, outputs: outputs,
                                 timeoutSeconds: output.timeoutSeconds)
        session.handleSignals()
        let quiet = output.quiet || output.json || output.ktap
        let progress = ConsoleProgress(label: plan.label, quiet: quiet)
        if !quiet, plan.cases.count > 1 {
            FileHandle.standardError.write(Data("kvmbench: order \(plan.order.description)\(output.orderSeed == nil && plan.order.kind == .interleaved ? " (--order-seed \(plan.order.seed ?? 0) repeats it)" : "")\n".utf8))
        }
        let previous = quiet ? [:] : previousRepetitionTimes(host: host.fingerprint, history: history)
        let document = session.run(plan, progress: progress, previous: previous)
        if printResults { try show(document, output: output) }
        return document
    }

    /// Seconds per repetition of every case recorded on this host, from its latest run in the
    /// history: the median `repetition_time`. Empty when there is no history yet, or it cannot
    /// be read (an estimate is not worth a failed run, and nothing is created to read it).
    static func previousRepetitionTimes(host: HostFingerprint, history: String?) -> [String: Double] {
        let location = HistoryDatabase.defaultPath(option: history)
        guard HistoryStores.isServerURL(location) || FileManager.default.fileExists(atPath: location),
              let store = try? HistoryStores.open(location),
              let points = try? store.series(metric: RunEstimate.metric.name, caseKey: nil, scenario: nil, host: HostKey.of(host)) else { return [:] }
        var latest: [String: (run: Int64, seconds: Double)] = [:]
        for point in points {
            guard let median = point.median, median > 0 else { continue }
            if let seen = latest[point.caseKey], seen.run >= point.runID { continue }
            latest[point.caseKey] = (point.runID, median)
        }
        return latest.mapValues(\.seconds)
    }

    /// A dry run's list: each case with its recorded parameters, counts and notices.
    static func listCases(_ cases: [PlannedCase]) {
        for item in cases {
            let parameters = item.scenario.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            print("  \(item.name) [\(parameters)] warmups=\(item.settings.warmups) repetitions=\(item.settings.repetitions)")
            for notice in item.scenario.notices { print("    notice: \(notice)") }
        }
    }

    /// The results as the output options ask: JSON, KTAP, or tables followed by each scenario's appendix.
    static func show(_ document: ResultDocument, output: OutputOptions) throws {
        if output.json {
            print(String(decoding: try document.encoded(), as: UTF8.self))
        } else if output.ktap {
            print(KTAPReport.render(document), terminator: "")
        } else {
            let colour = SuiteCLI.colour
            print(renderResultText(document, colour: colour))
            for type in ScenarioCatalog.all {
                guard let appendix = type.reportAppendix, document.cases.contains(where: { $0.scenario == type.name }) else { continue }
                let text = appendix.render(document.cases, scenario: type.name, colour: colour)
                if !text.isEmpty { print(text) }
            }
        }
    }
}
