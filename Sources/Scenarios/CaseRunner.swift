import Backings
import KVM
import Results

/// One measured value of one repetition.
public struct MetricSample: Sendable {
    public var name: String
    public var unit: String
    public var better: Polarity
    public var value: Double
    /// False for figures reported for insight but not gated on (e.g. counts).
    public var gate: Bool
    public init(_ name: String, _ value: Double, unit: String, better: Polarity, gate: Bool = true) {
        self.name = name
        self.unit = unit
        self.better = better
        self.value = value
        self.gate = gate
    }
}

/// Everything one repetition of a case measured.
public struct Sample: Sendable {
    public var metrics: [MetricSample] = []
    public var kvmStats: [String: Int64] = [:]
    public var phaseStats: [String: [String: Int64]]? = nil
    public var perVCPU: [[String: Double]]? = nil
    public var notes: [String] = []
    /// Parameters the scenario decided while running (e.g. the effective slot count).
    public var extraParameters: [String: String] = [:]
    public init() {}

    public mutating func add(_ name: String, _ value: Double, unit: String, better: Polarity, gate: Bool = true) {
        metrics.append(MetricSample(name, value, unit: unit, better: better, gate: gate))
    }
}

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
    /// `afterRepetition` gets the case as it stands after each measured repetition, marked
    /// `interrupted` with the repetitions done so far (the caller writes it out, so a process
    /// killed mid-case keeps them); it runs outside every timed region.
    public static func run(scenario: String, parameters: [String: String], settings: RunSettings,
                           progress: (String) -> Void = { _ in },
                           afterRepetition: (CaseResult) -> Void = { _ in },
                           repetition body: (_ index: Int) throws -> Sample) -> CaseResult {
        var result = CaseResult(scenario: scenario, parameters: parameters)
        let total = settings.warmups + settings.repetitions
        defer { HugepagePool.restoreAll() }
        _ = PlacementLog.take() // reports of guests built outside a case (e.g. a failed one) are not this case's
        do {
            for index in 0..<total {
                let warmup = index < settings.warmups
                progress(warmup ? "warm-up \(index + 1)/\(settings.warmups)" : "repetition \(index - settings.warmups + 1)/\(settings.repetitions)")
                var sample = try body(index)
                PlacementLog.drain(into: &sample)
                if warmup { continue }
                merge(sample, into: &result)
                var partial = result
                partial.interrupted = CaseInterruption(repetitionsCompleted: index - settings.warmups + 1,
                                                       repetitionsPlanned: settings.repetitions)
                afterRepetition(partial)
            }
        } catch let error as ScenarioUnsupported {
            result.status = .unsupported
            result.reason = error.reason
        } catch let error as BackingUnsupported {
            result.status = .unsupported
            result.reason = error.reason
        } catch {
            result.status = .failed
            result.reason = ErrorText.describe(error)
        }
        return result
    }

    static func merge(_ sample: Sample, into result: inout CaseResult) {
        for metric in sample.metrics {
            if let at = result.metrics.firstIndex(where: { $0.name == metric.name }) {
                result.metrics[at].append(metric.value)
            } else {
                result.metrics.append(Metric(name: metric.name, unit: metric.unit, better: metric.better,
                                             samples: [metric.value], gate: metric.gate))
            }
        }
        result.kvmStats = sample.kvmStats
        result.phaseStats = sample.phaseStats
        result.perVCPU = sample.perVCPU
        for note in sample.notes where !result.notes.contains(note) { result.notes.append(note) }
        for (key, value) in sample.extraParameters { result.parameters[key] = value }
    }
}
