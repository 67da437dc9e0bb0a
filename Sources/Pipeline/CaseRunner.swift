import Foundation
import Backings
import Host
import Results
import Harness
import Scenarios

/// Warm-ups and repetitions of a case.
public struct RunSettings: Sendable, Equatable {
    public var warmups: Int
    public var repetitions: Int
    public init(warmups: Int = 1, repetitions: Int = 3) {
        self.warmups = warmups
        self.repetitions = repetitions
    }
}

/// One case under way: the repetitions measured so far and what ends it. Warm-ups and repetitions
/// are run one at a time (`runOnce`), so a plan can interleave the repetitions of its cases; each
/// runs on a fresh VM and keeps its sample. A host that cannot run the case makes it
/// "unsupported"; a guest or KVM failure makes it "failed" with the reason; either ends it, and
/// neither stops the plan's other cases.
public struct CaseRun: Sendable {
    public let settings: RunSettings
    public private(set) var result: CaseResult
    /// Measured repetitions so far (warm-ups not counted).
    public private(set) var measured = 0
    /// Set once the case failed or turned out unsupported: its later repetitions are skipped.
    public private(set) var isOver = false
    /// Seconds spent in this case's repetitions and warm-ups so far.
    public private(set) var seconds = 0.0
    /// "best_..." metrics the scenario asked for: derived name -> source metric.
    private var derived: [String: String] = [:]

    public init(scenario: String, parameters: [String: String], settings: RunSettings) {
        self.settings = settings
        result = CaseResult(scenario: scenario, parameters: parameters)
    }

    /// Runs one warm-up (its sample is dropped) or one measured repetition on a fresh
    /// `CaseContext` on `host`. The placement reports of the guests it built, and the CPU the
    /// measuring (main) thread was on when the repetition started and ended, go into its sample.
    public mutating func runOnce(warmup: Bool, host: HostSession, timeoutSeconds: Double,
                                 body: (_ context: CaseContext) throws -> Sample) {
        guard !isOver else { return }
        let started = MonotonicClock.now()
        defer { seconds += MonotonicClock.seconds(since: started) }
        do {
            let context = CaseContext(host: host, timeoutSeconds: timeoutSeconds)
            let cpuBefore = MeasuringThread.currentCPU()
            var sample = try body(context)
            let cpuAfter = MeasuringThread.currentCPU()
            context.drainPlacementReports(into: &sample)
            if warmup { return }
            sample.measuringCPUs = [cpuBefore, cpuAfter]
            CaseRunner.merge(sample, into: &result)
            derived.merge(sample.bestOfRepetitions) { $1 }
            measured += 1
        } catch let error as ScenarioUnsupported {
            end(.unsupported, error.reason)
        } catch let error as BackingUnsupported {
            end(.unsupported, error.reason)
        } catch {
            end(.failed, CaseRunner.failureReason(error))
        }
    }

    private mutating func end(_ status: CaseStatus, _ reason: String) {
        result.status = status
        result.reason = reason
        isOver = true
    }

    /// The case as it stands before its last repetition: marked `interrupted` with the
    /// repetitions done so far, what a document written mid-run holds.
    public var partial: CaseResult {
        var partial = result
        if !isOver {
            partial.interrupted = CaseInterruption(repetitionsCompleted: measured, repetitionsPlanned: settings.repetitions)
        }
        return partial
    }

    /// The finished case, with the best-of-repetitions metrics its scenario asked for.
    public var finished: CaseResult {
        var out = result
        guard out.status == .ok else { return out }
        if let note = MeasuringThread.note(out.measuringCPUs ?? []) { out.notes.append(note) }
        for (name, source) in derived.sorted(by: { $0.key < $1.key }) {
            guard let metric = out.metric(named: source), !metric.samples.isEmpty else { continue }
            let best = metric.better == .lower ? metric.samples.min()! : metric.samples.max()!
            out.metrics.append(Metric(name: name, unit: metric.unit, better: metric.better, samples: [best], gate: false))
        }
        return out
    }
}

/// Runs one case on its own: warm-ups, then repetitions, back to back (`CaseRun`).
public enum CaseRunner {
    /// Every repetition gets a `CaseContext` of its own on `host` with the watchdog limit
    /// `timeoutSeconds`. `afterRepetition` gets the case as it stands after each measured
    /// repetition, marked `interrupted` with the repetitions done so far (the caller writes it
    /// out, so a process killed mid-case keeps them); it runs outside every timed region.
    public static func run(scenario: String, parameters: [String: String], settings: RunSettings,
                           host: HostSession, timeoutSeconds: Double = CaseContext.defaultTimeoutSeconds,
                           progress: (String) -> Void = { _ in },
                           afterRepetition: (CaseResult) -> Void = { _ in },
                           repetition body: (_ context: CaseContext) throws -> Sample) -> CaseResult {
        var run = CaseRun(scenario: scenario, parameters: parameters, settings: settings)
        defer { HostChangeLedger.restoreOwn(kinds: HostChangeKind.perCase) }
        let schedule = RunSchedule(settings: [settings], order: .sequential)
        for item in schedule.repetitions where !run.isOver {
            progress(item.progressText(of: settings))
            run.runOnce(warmup: item.warmup, host: host, timeoutSeconds: timeoutSeconds, body: body)
            if !item.warmup, !run.isOver { afterRepetition(run.partial) }
        }
        return run.finished
    }

    /// kvmbench's own errors as they describe themselves (a guest crash's registers, a selftest's
    /// last lines); Foundation's and decoding errors in words (`ErrorText`), never as a type dump.
    static func failureReason(_ error: any Error) -> String {
        let domain = (error as NSError).domain
        if error is DecodingError || error is EncodingError || domain == NSCocoaErrorDomain || domain == NSPOSIXErrorDomain {
            return ErrorText.describe(error)
        }
        return String(describing: error)
    }

    static func merge(_ sample: Sample, into result: inout CaseResult) {
        for metric in sample.metrics {
            if let at = result.metrics.firstIndex(where: { $0.name == metric.name }) {
                result.metrics[at].append(metric.value)
            } else {
                result.metrics.append(Metric(metric.metric, samples: [metric.value]))
            }
        }
        result.kvmStats = sample.kvmStats
        result.kvmStatTypes = sample.kvmStatTypes
        result.kvmStatsInstant = sample.kvmStatsInstant
        result.kvmStatsHistograms = sample.kvmStatsHistograms
        result.phaseStats = sample.phaseStats
        result.perVCPU = sample.perVCPU
        for note in sample.notes where !result.notes.contains(note) { result.notes.append(note) }
        if let cpus = sample.measuringCPUs { result.measuringCPUs = (result.measuringCPUs ?? []) + [cpus] }
        for (key, value) in sample.extraParameters { result.parameters[key] = value }
    }
}
