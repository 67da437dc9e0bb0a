import Foundation
import Host
import Pipeline
import Results
import Suites
import Testing
import TestSupport

/// Real suite runs on this host's /dev/kvm, kept small: two demand-paging cases of 16 MiB.
enum RealRuns {
    /// The host pages are populated before the guest runs (`host_prefault`), as in the nightly suite:
    /// this nested host's page allocation cost swings from run to run, KVM's fault path does not.
    static func tinySuite(repetitions: Int = 10) -> String {
        """
        suite: tiny
        description: two small demand-paging cases for the gate tests
        warmups: 1
        repetitions: \(repetitions)
        gate:
          threshold: 10%
          max_cv: 30%
          metrics:
            demand-paging: [first_touch_time, demand_paging_rate]
        cases:
          - scenario: demand-paging
            matrix:
              vcpus: [1, 2]
            parameters:
              mem_per_vcpu: 32M
              host_prefault: true
        """
    }

    /// Runs `text` as a suite, writing the document to `output` after every case.
    static func run(_ text: String, output: URL) throws -> ResultDocument {
        let host = try HostSession(devicePath: HostSession.devicePath(environment: ProcessInfo.processInfo.environment))
        let plan = try SuitePlanner.plan(try SuiteParser.parse(text, file: "tiny.yaml"), limits: host.limits)
        return RunSession(host: host, tool: ToolInfo(version: "test", gitCommit: nil), suite: plan.record, outputs: [output])
            .run(plan.run, progress: SilentProgress())
    }

    /// `document` as if measured on a host `speed` times as fast: every sample of a lower-is-better
    /// metric (times) divided by `speed`, of a higher-is-better one (rates) multiplied by it. Speed
    /// 1.25 makes the times 20% shorter; 1 / 1.2 makes them 20% longer.
    static func scaled(_ document: ResultDocument, speed: Double) -> ResultDocument {
        var copy = document
        for caseIndex in copy.cases.indices {
            for metricIndex in copy.cases[caseIndex].metrics.indices {
                let metric = copy.cases[caseIndex].metrics[metricIndex]
                let factor = metric.better == .lower ? 1 / speed : speed
                copy.cases[caseIndex].metrics[metricIndex] = Metric(name: metric.name, unit: metric.unit, better: metric.better,
                                                                    samples: metric.samples.map { $0 * factor }, gate: metric.gate)
            }
        }
        return copy
    }
}

/// How busy the rest of the host was while a block ran (see `HostLoad`): an A/A comparison is only
/// meaningful on an idle host.
struct HostActivity {
    let busyOthers: Double

    static func measure<T>(_ body: () throws -> T) rethrows -> (T, HostActivity) {
        let load = HostLoad.snapshot()
        let value = try body()
        return (value, HostActivity(busyOthers: (load.othersPercent() ?? 0) / 100))
    }

    var isBusy: Bool { busyOthers > 0.10 }
    var description: String { String(format: "other processes used %.0f%% of the CPUs during the runs", busyOthers * 100) }
}

@Suite("the gate on real runs", .serialized, .enabled(if: HostSession.deviceUsable, "needs /dev/kvm (readable and writable): skipped"))
struct GateRealRunTests {
    /// The same suite twice on the same host, one gated against the other, must pass; a baseline
    /// 20% faster than the measurement must fail it, one 20% slower must show improvements.
    @Test func aaRunPassesAndEditedBaselinesAreCaught() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let suite = RealRuns.tinySuite()
        let ((first, second), activity) = try HostActivity.measure {
            (try RealRuns.run(suite, output: directory.appendingPathComponent("a.json")),
             try RealRuns.run(suite, output: directory.appendingPathComponent("b.json")))
        }
        #expect(first.cases.count == 2 && first.cases.allSatisfy { $0.status == .ok })
        #expect(first.suite?.name == "tiny" && !first.interrupted && first.finishedAt != nil)
        for item in first.cases {
            let time = try #require(item.metric(named: "first_touch_time"))
            #expect(time.samples.count == 10, "warm-ups are not recorded")
            #expect(time.summary?.count == 10 && time.summary?.medianInterval != nil)
            #expect(item.metric(named: HostLoad.metricName)?.samples.count == 10, "every repetition records host_busy")
        }
        // The document on disk is the one returned (written after every case, then finished; dates
        // are written to the second).
        let onDisk = try DocumentLoader.load(directory.appendingPathComponent("a.json")).document
        #expect(onDisk.cases == first.cases && onDisk.suite == first.suite && onDisk.finishedAt != nil && !onDisk.interrupted)

        let store = BaselineStore(directory: directory.appendingPathComponent("Baselines"))
        try store.save(first, as: "aa", source: "a.json")
        let baseline = try store.load("aa")
        let aa = try Gate.evaluate(baseline: baseline, result: LoadedDocument(document: second, baseline: nil, label: "b.json",
                                                                             url: directory.appendingPathComponent("b.json")))
        let gated = aa.report.comparison.metrics.filter(\.gate)
        #expect(gated.count == 4, "two gated metrics per case")
        // A/A never fails the gate; it passes outright when every gated metric is tight enough for
        // its interval to fit inside the 10% threshold, else it may be inconclusive.
        let aaText = "\(aa.summaryLine)\n\(Gate.regressionLines(aa).joined(separator: "\n")) (\(activity.description))"
        let allTight = gated.allSatisfy { max($0.beforeSpread ?? 1, $0.afterSpread ?? 1) <= 0.02 }
        if activity.isBusy {
            withKnownIssue("A/A on a busy host (\(activity.description)): the runs compete with other work", isIntermittent: true) {
                #expect(aa.status == .pass || aa.status == .inconclusive, "\(aaText)")
            }
        } else {
            #expect(aa.status == .pass || aa.status == .inconclusive, "\(aaText)")
            if allTight { #expect(aa.status == .pass, "\(aaText)") }
        }

        // The decision rule on the real samples: the busy-host rule (tested on its own) is left out
        // by dropping `host_busy`, so that a busy moment cannot hide what the rule does.
        var measured = second
        for index in measured.cases.indices { measured.cases[index].metrics.removeAll { $0.name == HostLoad.metricName } }
        let result = LoadedDocument(document: measured, baseline: nil, label: "b.json", url: directory.appendingPathComponent("b.json"))

        // The same real measurement against a baseline edited to be 20% faster: the gate fails.
        let gatedNames = ["first_touch_time", "demand_paging_rate"]
        let faster = LoadedDocument(document: RealRuns.scaled(measured, speed: 1.25), baseline: nil, label: "faster", url: result.url)
        let failing = try Gate.evaluate(baseline: faster, result: result)
        let fasterGated = failing.report.comparison.metrics.filter(\.gate)
        #expect(fasterGated.count == 4 && fasterGated.allSatisfy { gatedNames.contains($0.metric) })
        #expect(fasterGated.allSatisfy { [.regressed, .cannotDecide, .noisy].contains($0.verdict) }, "never unchanged or improved")

        // ... and against one edited to be 20% slower: improvements, and the gate passes.
        let slower = LoadedDocument(document: RealRuns.scaled(measured, speed: 1 / 1.2), baseline: nil, label: "slower", url: result.url)
        let passing = try Gate.evaluate(baseline: slower, result: result)
        #expect(passing.status == .pass || passing.status == .inconclusive, "\(passing.summaryLine)")
        let slowerGated = passing.report.comparison.metrics.filter(\.gate)
        #expect(slowerGated.allSatisfy { [.improved, .cannotDecide, .noisy].contains($0.verdict) }, "never unchanged or regressed")

        // On an idle host the gate fails on the faster baseline and shows improvements against the
        // slower one, and every gated metric whose own spread is well below the shift (CV at most
        // 5%) shows it; a wider spread may rightly leave a 20% shift "cannot decide". On a busy
        // host the spread of every metric can be that wide, so these become known issues there.
        let tight = { (metric: MetricComparison) -> Bool in
            let item = measured.cases.first { $0.key == metric.caseKey }
            return (item?.metric(named: metric.metric)?.summary?.coefficientOfVariation ?? 1) <= 0.05
        }
        let strict = {
            // A metric whose spread is wide may rightly be "cannot decide" (and the gate then
            // inconclusive); where one is tight, the shift must show and decide the gate.
            if fasterGated.contains(where: tight) { #expect(failing.status == .regression, "\(failing.summaryLine)") }
            if slowerGated.contains(where: tight) { #expect(slowerGated.contains { $0.verdict == .improved }, "\(passing.summaryLine)") }
            for metric in fasterGated where tight(metric) {
                #expect(metric.verdict == .regressed, "\(metric.caseKey) \(metric.metric): \(metric.explanation)")
            }
            for metric in slowerGated where tight(metric) {
                #expect(metric.verdict == .improved, "\(metric.caseKey) \(metric.metric): \(metric.explanation)")
            }
        }
        if activity.isBusy {
            withKnownIssue("busy host (\(activity.description)): a 20% shift may hide in the spread", isIntermittent: true, strict)
        } else {
            strict()
        }
    }

    /// Real documents: measured by a tiny suite on this host.
    @Test(.enabled(if: Unavailable.none(SchemaValidator.unavailable, for: "schema check of a real gate"), SchemaValidator.needs))
    func aRealRunMatchesTheSchema() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("run.json")
        _ = try RealRuns.run(RealRuns.tinySuite(repetitions: 3), output: output)
        let outcome = try SchemaValidator.errors([output])
        #expect(outcome.status == 0, "\(outcome.output)")
    }
}
