import Foundation
import Pipeline
import Results
import Suites
import Testing
import TestSupport

@Suite("compare and gate: policy, matching, statuses")
struct GateDecisionTests {
    static let suiteText = """
        suite: g
        gate:
          threshold: 5%
          metrics:
            demand-paging:
              first_touch_time: 30%
        cases:
          - scenario: demand-paging
            matrix:
              vcpus: [1, 2]
        """

    @Test func aRegressionOfAGatedMetricFailsTheGate() throws {
        let before = Fixtures.loaded(Fixtures.document([Fixtures.timeCase(vcpus: 1)]), label: "base")
        let after = Fixtures.loaded(Fixtures.document([Fixtures.timeCase(vcpus: 1, samples: Fixtures.samples.map { $0 * 1.2 })]), label: "new")
        let outcome = try Gate.evaluate(baseline: before, result: after)
        #expect(outcome.status == .regression)
        #expect(outcome.regressions.map(\.metric).sorted() == ["demand_paging_rate", "first_touch_time"])
        #expect(outcome.summaryLine.hasPrefix("gate: FAIL: 2 significant regressions of gated metrics (base -> new)"), "\(outcome.summaryLine)")
        let lines = Gate.regressionLines(outcome)
        #expect(lines.count == 2 && lines.allSatisfy { $0.hasPrefix("REGRESSION demand-paging [vcpus=1] ") })
    }

    @Test func theBaselinesSuiteRecordDecidesThresholdsAndWhichMetricsGate() throws {
        let record = SuiteRecord(name: "g", definition: Self.suiteText)
        let before = Fixtures.loaded(Fixtures.document([Fixtures.timeCase(vcpus: 1)], suite: record), label: "base")
        let after = Fixtures.loaded(Fixtures.document([Fixtures.timeCase(vcpus: 1, samples: Fixtures.samples.map { $0 * 1.2 })]), label: "new")
        let outcome = try Gate.evaluate(baseline: before, result: after)
        // first_touch_time gates at 30%: +20% is within it. demand_paging_rate is not listed: not gated.
        #expect(outcome.status == .pass, "\(outcome.summaryLine)")
        let time = try #require(outcome.report.comparison.metrics.first { $0.metric == "first_touch_time" })
        #expect(time.threshold == 0.30 && time.gate && time.verdict == .unchanged)
        let rate = try #require(outcome.report.comparison.metrics.first { $0.metric == "demand_paging_rate" })
        #expect(rate.threshold == 0.05 && !rate.gate && rate.verdict == .regressed)
        #expect(outcome.report.policySource == "suite g (recorded in base)")
        // --threshold replaces the default threshold only.
        let strict = try SuiteComparison.compare(before: before, after: after, settings: CompareSettings(threshold: 0.5))
        #expect(strict.comparison.metrics.first { $0.metric == "demand_paging_rate" }?.threshold == 0.5)
        #expect(strict.comparison.metrics.first { $0.metric == "first_touch_time" }?.threshold == 0.30)
    }

    /// A result produced with a lax suite file (every threshold 90%) must not judge itself leniently:
    /// the gate reads the policy from the baseline (or the suite file it runs), never from the result.
    @Test func theResultsOwnSuiteRecordCannotLoosenTheGate() throws {
        let lax = SuiteRecord(name: "lax", definition: """
            suite: lax
            gate:
              threshold: 90%
              metrics:
                demand-paging:
                  first_touch_time: 90%
            cases:
              - scenario: demand-paging
            """)
        let before = Fixtures.loaded(Fixtures.document([Fixtures.timeCase(vcpus: 1)]), label: "base")
        let after = Fixtures.loaded(Fixtures.document([Fixtures.timeCase(vcpus: 1, samples: Fixtures.samples.map { $0 * 1.5 })],
                                                      suite: lax), label: "new")
        let outcome = try Gate.evaluate(baseline: before, result: after)
        #expect(outcome.status == .regression, "\(outcome.summaryLine)")
        #expect(outcome.report.policySource == "defaults")
        #expect(outcome.regressions.allSatisfy { $0.threshold == 0.05 })
        // A suite file given to the gate is the policy.
        let suite = try SuiteParser.parse(Self.suiteText, file: "g.yaml")
        let judged = try Gate.evaluate(baseline: before, result: after, suite: suite)
        #expect(judged.report.policySource == "suite g (g.yaml)")
        #expect(judged.regressions.map(\.metric) == ["first_touch_time"])
    }

    @Test func aGatedMetricMissingFromTheResultFailsTheGate() throws {
        let before = Fixtures.loaded(Fixtures.document([Fixtures.timeCase(vcpus: 1), Fixtures.timeCase(vcpus: 2)]), label: "base")
        var lacking = Fixtures.timeCase(vcpus: 1)
        lacking.metrics.removeAll { $0.name == "first_touch_time" }
        let after = Fixtures.loaded(Fixtures.document([lacking]), label: "new")
        let outcome = try Gate.evaluate(baseline: before, result: after)
        #expect(outcome.status == .regression, "\(outcome.summaryLine)")
        #expect(outcome.missing == ["case demand-paging[vcpus=1]: gated metric first_touch_time is not in new",
                                    "case demand-paging[vcpus=2]: measured in the baseline, not in the result"])
        #expect(outcome.summaryLine.hasPrefix("gate: FAIL: 2 gated case(s) or metric(s) of the baseline missing from the result"), "\(outcome.summaryLine)")
        #expect(Gate.regressionLines(outcome).allSatisfy { $0.hasPrefix("MISSING case demand-paging") })
    }

    /// 3 repetitions a side cannot reach p < 0.05: a doctored 2x regression is not a pass, it is
    /// inconclusive, and the gate says what it could have detected.
    @Test func aGatedMetricThatCannotBeDecidedMakesTheGateInconclusive() throws {
        let three = [100.0, 101.2, 99.1]
        let before = Fixtures.loaded(Fixtures.document([Fixtures.timeCase(vcpus: 1, samples: three)]), label: "base")
        let after = Fixtures.loaded(Fixtures.document([Fixtures.timeCase(vcpus: 1, samples: three.map { $0 * 2 })]), label: "new")
        let outcome = try Gate.evaluate(baseline: before, result: after)
        #expect(outcome.status == .inconclusive, "\(outcome.summaryLine)")
        #expect(outcome.undecided.map(\.metric).sorted() == ["demand_paging_rate", "first_touch_time"])
        #expect(outcome.undecided.allSatisfy { $0.verdict == .cannotDecide && $0.detectableChange == nil && $0.smallestPValue == 0.1 })
        #expect(outcome.summaryLine.hasPrefix("gate: INCONCLUSIVE: 2 gated metrics could not be decided"), "\(outcome.summaryLine)")
        #expect(Gate.regressionLines(outcome).allSatisfy { $0.hasPrefix("UNDECIDED demand-paging [vcpus=1] ") && $0.contains("detectable change none") })
    }

    @Test func aFailedCaseAndNothingComparableHaveTheirOwnStatus() throws {
        var failed = Fixtures.timeCase(vcpus: 2, samples: [])
        failed.status = .failed
        failed.reason = "guest triple fault"
        let before = Fixtures.loaded(Fixtures.document([Fixtures.timeCase(vcpus: 1), Fixtures.timeCase(vcpus: 2)]), label: "base")
        let after = Fixtures.loaded(Fixtures.document([Fixtures.timeCase(vcpus: 1), failed]), label: "new")
        let outcome = try Gate.evaluate(baseline: before, result: after)
        #expect(outcome.status == .caseFailed)
        #expect(Gate.regressionLines(outcome) == ["FAILED demand-paging[vcpus=2]: guest triple fault"])

        var unsupported = Fixtures.timeCase(vcpus: 1, samples: [])
        unsupported.status = .unsupported
        let nothing = try Gate.evaluate(baseline: before, result: Fixtures.loaded(Fixtures.document([unsupported]), label: "u"))
        // vcpus=1 became unsupported, vcpus=2 is missing: both fail the gate.
        #expect(nothing.status == .regression)
        #expect(nothing.missing.count == 2)
        #expect(nothing.missing.contains { $0.hasPrefix("case demand-paging[vcpus=1]: measured in the baseline, unsupported in the result") })

        var partial = Fixtures.document([Fixtures.timeCase(vcpus: 1)])
        partial.interrupted = true
        let cut = try Gate.evaluate(baseline: before, result: Fixtures.loaded(partial, label: "p"))
        #expect(cut.status == .incomparable && cut.problem?.contains("interrupted run") == true)
    }

    @Test func documentsThatShareNoCasesCannotBeCompared() {
        let before = Fixtures.loaded(Fixtures.document([Fixtures.timeCase(vcpus: 1)]), label: "base")
        let after = Fixtures.loaded(Fixtures.document([Fixtures.timeCase(vcpus: 4), Fixtures.timeCase(vcpus: 8, scenario: "zap-all")]), label: "new")
        do {
            _ = try Gate.evaluate(baseline: before, result: after)
            Issue.record("compared")
        } catch {
            #expect(error.kind == .baseline)
            #expect(error.message.hasPrefix("base and new share no cases, so nothing can be compared: base has 1 case (demand-paging[vcpus=1]); new has 2 cases"), "\(error.message)")
        }
    }

    @Test func hostDifferencesWarnAndCanBeMadeAnError() throws {
        let before = Fixtures.loaded(Fixtures.document([Fixtures.timeCase(vcpus: 1)], host: Fixtures.host(kernel: "6.17.0")), label: "base")
        let after = Fixtures.loaded(Fixtures.document([Fixtures.timeCase(vcpus: 1)], host: Fixtures.host(kernel: "6.18.0", thp: "always")), label: "new")
        let report = try SuiteComparison.compare(before: before, after: after)
        let warning = try #require(report.hostWarning)
        #expect(warning.hasPrefix("WARNING: the two sides were measured on hosts that differ"))
        #expect(warning.contains("kernel_release: 6.17.0 (base) vs 6.18.0 (new)") && warning.contains("thp_mode: madvise (base) vs always (new)"))
        #expect(throws: SuiteError.self) { try SuiteComparison.compare(before: before, after: after, settings: CompareSettings(requireSameHost: true)) }
        let ignoring = try SuiteComparison.compare(before: before, after: after, settings: CompareSettings(ignoreKernel: true))
        #expect(ignoring.comparison.hostDifferences.map(\.field) == ["thp_mode"])
        let sameKernelOnly = Fixtures.loaded(Fixtures.document([Fixtures.timeCase(vcpus: 1)], host: Fixtures.host(kernel: "6.18.0")), label: "k")
        #expect(try SuiteComparison.compare(before: before, after: sameKernelOnly,
                                            settings: CompareSettings(ignoreKernel: true, requireSameHost: true)).hostWarning == nil)
    }

    /// The gate compares like with like: a kernel change is what it is for, any other host difference
    /// (here online CPUs, memory, the hypervisor flag, the command line) is refused with every
    /// differing field named, unless --allow-other-host.
    @Test func theGateRefusesOtherHostsButNotOtherKernels() throws {
        func host(kernel: String = "6.18.0", cpus: Int = 2, memory: UInt64 = 8 << 30, guest: Bool = true,
                  cmdline: String = "BOOT_IMAGE=/vmlinuz-6.18.0 root=/dev/vda1 mitigations=auto") -> HostFingerprint {
            var fingerprint = Fixtures.host(kernel: kernel)
            fingerprint.onlineCPUs = cpus
            fingerprint.memTotalBytes = memory
            fingerprint.isGuest = guest
            fingerprint.kernelCommandLine = cmdline
            fingerprint.microcode = "0x1000065"
            return fingerprint
        }
        let before = Fixtures.loaded(Fixtures.document([Fixtures.timeCase(vcpus: 1)], host: host()), label: "base")
        let newKernel = Fixtures.loaded(Fixtures.document([Fixtures.timeCase(vcpus: 1)],
            host: host(kernel: "6.19.0", memory: (8 << 30) - (3 << 20), cmdline: "BOOT_IMAGE=/vmlinuz-6.19.0 root=/dev/vda1 mitigations=auto")), label: "k")
        let kernelOnly = try Gate.evaluate(baseline: before, result: newKernel)
        #expect(kernelOnly.report.comparison.hostDifferences.map(\.field) == ["kernel_release"])
        #expect(kernelOnly.status == .pass, "\(kernelOnly.summaryLine)")

        let other = Fixtures.loaded(Fixtures.document([Fixtures.timeCase(vcpus: 1)],
            host: host(cpus: 4, memory: 16 << 30, guest: false, cmdline: "BOOT_IMAGE=/vmlinuz-6.18.0 root=/dev/vda1 mitigations=off")), label: "o")
        do {
            _ = try Gate.evaluate(baseline: before, result: other)
            Issue.record("gated across hosts")
        } catch {
            #expect(error.kind == .baseline)
            for field in ["online_cpus (2 vs 4)", "mem_total (8.0 GiB vs 16.0 GiB)", "is_guest (yes (hypervisor flag) vs no)",
                          "kernel_cmdline (root=/dev/vda1 mitigations=auto vs root=/dev/vda1 mitigations=off)"] {
                #expect(error.message.contains(field), "\(field): \(error.message)")
            }
            #expect(error.message.contains("--allow-other-host"))
        }
        let allowed = try Gate.evaluate(baseline: before, result: other, settings: CompareSettings(allowOtherHost: true))
        #expect(allowed.status == .pass)
        #expect(allowed.report.hostWarning?.contains("online_cpus: 2 (base) vs 4 (o)") == true)
        // Fields a document does not record (older kvmbench, unreadable here) are not compared.
        var unknown = host()
        unknown.microcode = nil
        #expect(!host().mmuRelevantDifferences(from: unknown).contains { $0.field == "microcode" })
        #expect(Fixtures.host().mmuRelevantDifferences(from: host()).map(\.field) == [])
    }

    @Test func aReferenceBaselineCannotGate() throws {
        let reference = try Fixtures.baselines.load("reference/memslots-scalable-v4")
        let after = Fixtures.loaded(Fixtures.document([Fixtures.timeCase(vcpus: 1)]), label: "new")
        do {
            _ = try Gate.evaluate(baseline: reference, result: after)
            Issue.record("gated")
        } catch {
            #expect(error.kind == .baseline && error.message.contains("cannot gate"), "\(error.message)")
        }
    }

    @Test func casesMeasuredOnABusyHostAreNoisyAndTheGateSaysSo() throws {
        func withLoad(_ item: CaseResult, _ busy: [Double]) -> CaseResult {
            var copy = item
            copy.metrics.append(Metric(name: HostLoad.metricName, unit: .percent, better: .lower, samples: busy, gate: false))
            return copy
        }
        let quiet = [1.0, 2, 1.5, 0.5, 1, 2, 1, 1.5, 0.8, 1.2]
        let before = Fixtures.loaded(Fixtures.document([withLoad(Fixtures.timeCase(vcpus: 1), quiet),
                                                        withLoad(Fixtures.timeCase(vcpus: 2), quiet)]), label: "base")
        let slower = Fixtures.samples.map { $0 * 1.5 }
        let busyAfter = Fixtures.loaded(Fixtures.document([withLoad(Fixtures.timeCase(vcpus: 1), quiet),
                                                           withLoad(Fixtures.timeCase(vcpus: 2, samples: slower), quiet.map { $0 + 40 })]),
                                        label: "new")
        let outcome = try Gate.evaluate(baseline: before, result: busyAfter)
        #expect(outcome.report.busyCases == ["demand-paging[vcpus=2]"])
        let busyMetrics = outcome.report.comparison.metrics.filter { $0.caseKey == "demand-paging[vcpus=2]" }
        #expect(busyMetrics.allSatisfy { $0.verdict == .noisy && $0.explanation.hasPrefix("host busy: other processes used") })
        #expect(outcome.status == .incomparable && outcome.problem?.contains("the host was busy during 1 case(s)") == true)
        #expect(outcome.report.warnings.contains { $0.contains("demand-paging[vcpus=2] (1% before, 41% after)") })
        // A regression in a quiet case still fails the gate.
        let bothSlower = Fixtures.loaded(Fixtures.document([withLoad(Fixtures.timeCase(vcpus: 1, samples: slower), quiet),
                                                            withLoad(Fixtures.timeCase(vcpus: 2, samples: slower), quiet.map { $0 + 40 })]),
                                         label: "new")
        #expect(try Gate.evaluate(baseline: before, result: bothSlower).status == .regression)
    }

    @Test func noisyMetricsAreMarkedAndMakeTheGateInconclusive() throws {
        var noisy = Fixtures.timeCase(vcpus: 1, samples: [100, 180, 95, 250, 60])
        noisy.summarise(maxCV: 0.3)
        let time = try #require(noisy.metric(named: "first_touch_time"))
        let summary = try #require(time.summary)
        #expect(summary.count == 5 && summary.median == 100 && summary.min == 60 && summary.max == 250)
        #expect(summary.coefficientOfVariation > 0.3 && summary.medianInterval != nil)
        #expect(noisy.notes.contains { $0.hasPrefix("noisy: first_touch_time varies too much to gate on: robust spread ") })
        #expect(noisy.noisyMetrics(maxCV: 0.3).contains("first_touch_time"))
        let before = Fixtures.loaded(Fixtures.document([Fixtures.timeCase(vcpus: 1)]), label: "base")
        let outcome = try Gate.evaluate(baseline: before, result: Fixtures.loaded(Fixtures.document([noisy]), label: "new"))
        #expect(outcome.report.comparison.metrics.first { $0.metric == "first_touch_time" }?.verdict == .noisy)
        // A noisy gated metric rules nothing out: the gate is inconclusive, not a pass.
        #expect(outcome.status == .inconclusive)
    }
}
