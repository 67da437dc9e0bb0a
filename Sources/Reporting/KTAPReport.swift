import Foundation
import Results

/// One test point of a KTAP document: a result line, the diagnostic lines before it, and
/// optionally a nested set of subtests.
public struct KTAPTest: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        case ok
        case notOK
        /// `ok N name # SKIP reason`: the host cannot run it, or nothing could be decided.
        case skip(String)
    }

    public var name: String
    public var outcome: Outcome
    /// Lines printed as `# line` just before the result line (the figures, the reasons).
    public var diagnostics: [String]
    public var subtests: [KTAPTest]

    public init(name: String, outcome: Outcome, diagnostics: [String] = [], subtests: [KTAPTest] = []) {
        self.name = name
        self.outcome = outcome
        self.diagnostics = diagnostics
        self.subtests = subtests
    }
}

/// Results as KTAP version 1 (Documentation/dev-tools/ktap.rst), the format the kselftest runner
/// and KUnit print, so kvmbench drops into kselftest-based labs:
///
/// ```
/// KTAP version 1
/// 1..2
/// # first_touch_time: 270.1 ms (median of 5, min 262.0 ms, max 281.3 ms, CV 2.6%)
/// ok 1 demand-paging [vcpus=1 mem_per_vcpu=64M]
/// ok 2 memslots [slots=32763] # SKIP no hugepages
/// ```
///
/// A case is one test point: `ok` when measured, `not ok` when it failed, `ok ... # SKIP reason`
/// when the host cannot run it. Diagnostics (`# ...` before the result line) carry every metric's
/// figures, the case's notes and a failure's reason, one line each. For the gate, a case's gated
/// metrics are subtests (indented two spaces, with their own version and plan lines): `not ok` for
/// a significant regression or a missing gated metric, `# SKIP inconclusive: ...` for one the
/// samples could not decide; the case carries the gate's verdict (see `render(gate:summary:)`).
/// Descriptions never hold `#` (the spec forbids it) and no line holds a newline.
public enum KTAPReport {
    public static let versionLine = "KTAP version 1"

    /// The tests as a KTAP document; `header` lines come first as diagnostics.
    public static func render(_ tests: [KTAPTest], header: [String] = []) -> String {
        var lines = [versionLine, "1..\(tests.count)"]
        lines += header.flatMap(diagnosticLines)
        append(tests, to: &lines, indent: "")
        return lines.map { $0 + "\n" }.joined()
    }

    /// A run (`run`, `suite`, `selftest`): one test point per case, with its figures.
    public static func render(_ document: ResultDocument) -> String {
        let tests = document.cases.map(caseTest)
        var header = ["kvmbench \(document.kvmbench.version) on \(hostSummary(document.host))"]
        if let suite = document.suite { header.append("suite \(suite.name)") }
        if document.interrupted { header.append("interrupted: the run was stopped before every case had run") }
        return render(tests, header: header)
    }

    /// The gate: one test point per case of the comparison with the gate's verdict
    /// (`DocumentComparison.judgements`), one subtest per gated metric. `not ok` for what fails the
    /// gate (a regressed or missing gated metric, a failed, missing or newly unsupported case);
    /// `ok ... # SKIP inconclusive: ...` for what the samples could not decide (never a plain `ok`:
    /// an inconclusive gate is not a pass); `ok ... # SKIP reason` for a case with nothing to judge.
    /// `summary` (the gate's verdict line) is printed as a diagnostic at the end.
    public static func render(gate comparison: DocumentComparison, summary: String) -> String {
        let tests: [KTAPTest] = comparison.judgements.map { item in
            let label = ParameterDisplay.caseLabel(scenario: item.scenario, parameters: item.parameters)
            let gated = item.metrics.filter(\.gate)
            let subtests = gated.map(metricTest) + item.missingMetrics.map { missing in
                KTAPTest(name: missing.metric, outcome: .notOK, diagnostics: ["missing: \(missing.reason)"])
            }
            var diagnostics = item.metrics.filter { !$0.gate }.map { "\($0.metric) (not gated): " + figures($0) }
            if subtests.isEmpty, item.metrics.isEmpty == false { diagnostics.append("no gated metric") }
            let outcome: KTAPTest.Outcome
            switch item.verdict {
            case .failed, .regressed, .missing, .newlyUnsupported:
                outcome = .notOK
                diagnostics.append("\(item.verdict.label): \(item.reason)")
            case .inconclusive: outcome = .skip("inconclusive: \(item.reason)")
            case .skipped: outcome = .skip(item.reason)
            case .passed, .notGated: outcome = .ok
            }
            return KTAPTest(name: label, outcome: outcome, diagnostics: diagnostics, subtests: subtests)
        }
        let header = ["kvmbench gate: \(comparison.before.label) -> \(comparison.after.label)"]
        var text = render(tests, header: header)
        text += diagnosticLines(summary).map { $0 + "\n" }.joined()
        return text
    }

    static func caseTest(_ item: CaseResult) -> KTAPTest {
        let name = ParameterDisplay.caseLabel(scenario: item.scenario, parameters: item.parameters)
        var diagnostics = item.metrics.map { metric in
            "\(metric.name): " + UnitFormatting.format(metric.median, unit: metric.unit) + sampleText(metric)
        }
        diagnostics += item.notes.map { "note: \($0)" }
        switch item.status {
        case .ok:
            return KTAPTest(name: name, outcome: .ok, diagnostics: diagnostics)
        case .unsupported:
            return KTAPTest(name: name, outcome: .skip(item.reason ?? "unsupported on this host"), diagnostics: diagnostics)
        case .failed:
            return KTAPTest(name: name, outcome: .notOK, diagnostics: diagnostics + ["failed: \(item.reason ?? "no reason given")"])
        }
    }

    /// " (median of 5, min 1.0 ms, max 1.2 ms, CV 3.1%)", or "" for a single sample.
    static func sampleText(_ metric: Metric) -> String {
        guard metric.samples.count > 1, let low = metric.samples.min(), let high = metric.samples.max() else { return "" }
        var text = " (median of \(metric.samples.count), min \(UnitFormatting.format(low, unit: metric.unit)), max \(UnitFormatting.format(high, unit: metric.unit))"
        if let cv = metric.summary?.coefficientOfVariation, cv.isFinite { text += ", CV " + NumberText.fixed(cv * 100, decimals: 1) + "%" }
        return text + ")"
    }

    static func metricTest(_ metric: MetricComparison) -> KTAPTest {
        let diagnostics = ["\(metric.metric): " + figures(metric) + ": " + metric.explanation]
        switch metric.gateVerdict {
        case .regressed: return KTAPTest(name: metric.metric, outcome: .notOK, diagnostics: diagnostics)
        case .inconclusive:
            return KTAPTest(name: metric.metric, outcome: .skip("inconclusive: \(metric.verdict.label): \(metric.explanation)"),
                            diagnostics: diagnostics)
        case .passed, .notGated: return KTAPTest(name: metric.metric, outcome: .ok, diagnostics: diagnostics)
        }
    }

    /// "before 1.00 ms, after 1.20 ms, change +20.0%, p 0.008, regressed"
    static func figures(_ metric: MetricComparison) -> String {
        "before \(UnitFormatting.format(metric.beforeMedian, unit: metric.unit)), "
            + "after \(UnitFormatting.format(metric.afterMedian, unit: metric.unit)), "
            + "change \(UnitFormatting.change(metric.change)), p \(UnitFormatting.pValue(metric.pValue)), \(metric.verdict.label)"
    }

    static func hostSummary(_ host: HostFingerprint) -> String {
        "\(host.hostname) (\(host.cpuModel), kernel \(host.kernelRelease), \(host.kvmModule))"
    }

    private static func append(_ tests: [KTAPTest], to lines: inout [String], indent: String) {
        for (index, test) in tests.enumerated() {
            if !test.subtests.isEmpty {
                let inner = indent + "  "
                lines.append(inner + versionLine)
                lines.append(inner + "1..\(test.subtests.count)")
                append(test.subtests, to: &lines, indent: inner)
            }
            lines += test.diagnostics.flatMap(diagnosticLines).map { indent + $0 }
            var line = indent + (test.outcome == .notOK ? "not ok" : "ok") + " \(index + 1) " + description(test.name)
            if case .skip(let reason) = test.outcome {
                line += " # SKIP " + singleLine(reason)
            }
            lines.append(trimmed(line))
        }
    }

    /// `text` as diagnostic lines, one per line of text: "# text".
    static func diagnosticLines(_ text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { trimmed("# " + String($0).terminalSafe.replacingOccurrences(of: "\r", with: "")) }
    }

    /// A description as the spec allows it: no '#', no newline, no control characters.
    static func description(_ name: String) -> String {
        singleLine(name).replacingOccurrences(of: "#", with: "no.")
    }

    static func singleLine(_ text: String) -> String {
        text.terminalSafe.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).joined(separator: " ")
    }

    static func trimmed(_ line: String) -> String {
        var line = line
        while line.hasSuffix(" ") { line.removeLast() }
        return line
    }
}
