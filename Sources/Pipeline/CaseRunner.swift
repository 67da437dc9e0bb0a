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

/// Runs a case: warm-ups (discarded), then repetitions, each on a fresh VM, keeping every sample.
/// A host that cannot run it makes the case "unsupported"; a guest or KVM failure makes it
/// "failed" with the reason. Neither stops the caller's other cases.
public enum CaseRunner {
    /// Every repetition gets a `CaseContext` of its own on `host` with the watchdog limit
    /// `timeoutSeconds`; the placement reports of the guests it built are added to its sample.
    /// `afterRepetition` gets the case as it stands after each measured repetition, marked
    /// `interrupted` with the repetitions done so far (the caller writes it out, so a process
    /// killed mid-case keeps them); it runs outside every timed region.
    public static func run(scenario: String, parameters: [String: String], settings: RunSettings,
                           host: HostSession, timeoutSeconds: Double = CaseContext.defaultTimeoutSeconds,
                           progress: (String) -> Void = { _ in },
                           afterRepetition: (CaseResult) -> Void = { _ in },
                           repetition body: (_ context: CaseContext) throws -> Sample) -> CaseResult {
        var result = CaseResult(scenario: scenario, parameters: parameters)
        let total = settings.warmups + settings.repetitions
        defer { HostChangeLedger.restoreOwn(kinds: HostChangeKind.perCase) }
        var derived: [String: String] = [:]
        do {
            for index in 0..<total {
                let warmup = index < settings.warmups
                progress(warmup ? "warm-up \(index + 1)/\(settings.warmups)" : "repetition \(index - settings.warmups + 1)/\(settings.repetitions)")
                let context = CaseContext(host: host, timeoutSeconds: timeoutSeconds)
                var sample = try body(context)
                context.drainPlacementReports(into: &sample)
                if warmup { continue }
                merge(sample, into: &result)
                derived.merge(sample.bestOfRepetitions) { $1 }
                var partial = result
                partial.interrupted = CaseInterruption(repetitionsCompleted: index - settings.warmups + 1,
                                                       repetitionsPlanned: settings.repetitions)
                afterRepetition(partial)
            }
            for (name, source) in derived.sorted(by: { $0.key < $1.key }) {
                guard let metric = result.metric(named: source), !metric.samples.isEmpty else { continue }
                let best = metric.better == .lower ? metric.samples.min()! : metric.samples.max()!
                result.metrics.append(Metric(name: name, unit: metric.unit, better: metric.better, samples: [best], gate: false))
            }
        } catch let error as ScenarioUnsupported {
            result.status = .unsupported
            result.reason = error.reason
        } catch let error as BackingUnsupported {
            result.status = .unsupported
            result.reason = error.reason
        } catch {
            result.status = .failed
            result.reason = failureReason(error)
        }
        return result
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
        for (key, value) in sample.extraParameters { result.parameters[key] = value }
    }
}
