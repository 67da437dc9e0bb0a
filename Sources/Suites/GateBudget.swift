import Foundation
import Parameters
import Pipeline
import Results
import Statistics

/// `gate --budget`: repetitions until decided. After the night's planned run, a gated metric
/// the history cannot yet decide is given more repetitions of its case (the undecided cases
/// interleaved with one another, as many repetitions again as the suite plans), and the night is
/// judged again, until every gated metric is decided or the next extension would not fit in the
/// budget (counted from the start of the night).
///
/// Only what more repetitions can change is extended: the within-run part of the night's median
/// (σ_w² / n₀, see `RunLevelDecision`). A metric whose earlier runs vary as wholes (the between-run
/// part) is not, and the gate says so. Each look tests at alpha / 2^k (`RunLook`), so the night's
/// false-alarm rate over all its looks stays below alpha.
public struct GateBudget: Sendable {
    /// Seconds the night may take, its planned run included.
    public let seconds: Double
    public let started: Date

    public init(seconds: Double, started: Date) {
        self.seconds = seconds
        self.started = started
    }

    /// "10m", "90s", "600" (seconds), "1.5min"; nil for anything else or for zero.
    public static func seconds(parsing text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        for suffix in ["min", "m"] where trimmed.hasSuffix(suffix) {
            guard let minutes = Double(trimmed.dropLast(suffix.count)), minutes.isFinite, minutes > 0 else { return nil }
            return minutes * 60
        }
        guard let nanos = parseDuration(trimmed, plainUnit: 1e9), nanos > 0 else { return nil }
        return Double(nanos) / 1e9
    }

    /// Why an undecided metric is or is not worth more repetitions.
    public enum Prospect: Equatable, Sendable {
        /// Doubling the repetitions would shrink the decision's standard error by `gain` (a share).
        case extend(gain: Double)
        /// Its runs vary as wholes, or it has no spread estimate yet: repetitions cannot decide it.
        case hopeless(String)
    }

    static func percent(_ share: Double) -> String { String(format: "%.1f%%", share * 100) }

    /// The smallest share by which doubling the repetitions must shrink a decision's standard error
    /// to be worth the time.
    public static let minimumGain = 0.05

    /// What doubling the night's repetitions would do for `metric` (a run-level decision).
    public static func prospect(of metric: MetricComparison) -> Prospect {
        guard let series = metric.runSeries, series.runs >= RunLevelDecision.defaultMinimumRuns,
              let spread = series.runSpread else {
            return .hopeless("no run-to-run spread known yet")
        }
        let within = series.withinRunSpread * series.withinRunSpread
        let between = (series.betweenRunSpread ?? 0) * (series.betweenRunSpread ?? 0)
        let shared = spread * spread / Double(series.runs) + between
        let now = (shared + within).squareRoot(), doubled = (shared + within / 2).squareRoot()
        guard now > 0 else { return .hopeless("no spread") }
        let gain = 1 - doubled / now
        if gain < minimumGain {
            return .hopeless("its runs vary as wholes (between-run \(Self.percent(series.betweenRunSpread ?? 0)), within-run \(Self.percent(series.withinRunSpread))): more repetitions cannot decide it")
        }
        return .extend(gain: gain)
    }

    /// The gated metrics `outcome` left undecided, whatever the gate made of them (inconclusive,
    /// collecting while undecided, or not decidable at its threshold).
    public static func undecided(_ outcome: GateOutcome) -> [MetricComparison] {
        let set = Set((outcome.collecting + outcome.undetectable).map(\.gatedID))
        return outcome.report.comparison.metrics.filter { metric in
            metric.verdict == .cannotDecide && metric.runSeries != nil && (metric.gate || set.contains(metric.gatedID))
        }
    }

    /// Case keys worth extending, and a line per metric that is not.
    public static func casesToExtend(_ outcome: GateOutcome) -> (keys: Set<String>, skipped: [String]) {
        var keys = Set<String>(), skipped: [String] = []
        for metric in undecided(outcome) {
            switch prospect(of: metric) {
            case .extend: keys.insert(metric.caseKey)
            case .hopeless(let why): skipped.append("\(metric.scenario) \(metric.metric): \(why)")
            }
        }
        return (keys, skipped)
    }

    /// Seconds an extension of the night's cases `keys` is expected to take: their warm-ups and
    /// repetitions (`settings`, the planned cases behind them) at the median `repetition_time` of
    /// those cases tonight.
    public static func estimate(_ document: ResultDocument, keys: Set<String>, settings: [RunSettings]) -> Double {
        let times = document.cases.filter { keys.contains($0.key) }
            .compactMap { $0.metric(named: RunEstimate.metric.name).map { Summary.median(of: $0.samples) } }
        let perRepetition = times.isEmpty ? 0 : times.reduce(0, +) / Double(times.count)
        return perRepetition * Double(settings.reduce(0) { $0 + $1.warmups + $1.repetitions })
    }

    /// `night` with the samples of `more` (an extension's run) appended to its cases (matched by key): the
    /// night's document as recorded, every repetition of each case in it.
    public static func merge(_ more: ResultDocument, into night: ResultDocument, maxCV: Double) -> ResultDocument {
        var out = night
        for extra in more.cases where extra.status == .ok {
            guard let index = out.cases.firstIndex(where: { $0.key == extra.key }) else { continue }
            var item = out.cases[index]
            // Per-repetition metrics only (as many samples as repetitions): a best-of-repetitions
            // figure has one sample and is not extended.
            let repetitions = item.metric(named: RunEstimate.metric.name)?.samples.count
                ?? item.metrics.map(\.samples.count).max()
            for metric in extra.metrics {
                guard let at = item.metrics.firstIndex(where: { $0.name == metric.name }),
                      item.metrics[at].samples.count == repetitions else { continue }
                for sample in metric.samples { item.metrics[at].append(sample) }
            }
            if let cpus = extra.measuringCPUs { item.measuringCPUs = (item.measuringCPUs ?? []) + cpus }
            for note in extra.notes where !item.notes.contains(note) { item.notes.append(note) }
            item.summarise(maxCV: maxCV)
            out.cases[index] = item
        }
        out.finishedAt = more.finishedAt ?? out.finishedAt
        return out
    }
}

extension MetricComparison {
    /// One metric of one case, across the comparisons of one night (the gate's, an extension's,
    /// a positive control's).
    public var gatedID: String { caseKey + "\u{1F}" + metric }
}
