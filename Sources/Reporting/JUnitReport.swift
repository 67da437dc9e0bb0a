import Results

/// JUnit XML, for CI systems that show test results: one `<testsuite>` whose test cases are the
/// gated metric comparisons (a regression is a `<failure>`) or, for a plain run, the cases.
/// Every value from a result is XML-escaped.
public enum JUnitReport {
    /// A comparison: one test case per gated metric (regressed → `<failure>`, not decided →
    /// `<skipped>` "inconclusive"), one `<failure>` per gated metric missing from the result, plus
    /// one per case that could not be compared, by the gate's verdict (failed → `<error>`, missing
    /// or newly unsupported → `<failure>`, nothing to judge → `<skipped>`).
    public static func render(_ comparison: DocumentComparison) -> String {
        var cases: [TestCase] = []
        for metric in comparison.metricsInReportOrder where metric.gate {
            let name = metric.caseKey + " " + metric.metric
            let summary = "\(metric.metric) \(metric.verdict.label): "
                + "before \(UnitFormatting.format(metric.beforeMedian, unit: metric.unit)), "
                + "after \(UnitFormatting.format(metric.afterMedian, unit: metric.unit)), "
                + "change \(UnitFormatting.change(metric.change)), p \(UnitFormatting.pValue(metric.pValue))"
            let outcome: TestCase.Outcome
            switch metric.gateVerdict {
            case .regressed: outcome = .failure(message: summary, type: "regression", detail: metric.explanation)
            case .inconclusive: outcome = .skipped(message: "inconclusive: " + summary + "; " + metric.explanation)
            case .passed, .notGated: outcome = .passed(output: summary + "; " + metric.explanation)
            }
            cases.append(TestCase(classname: metric.scenario, name: name, outcome: outcome))
        }
        for item in comparison.missingMetrics {
            cases.append(TestCase(classname: item.scenario, name: item.caseKey + " " + item.metric,
                                  outcome: .failure(message: "missing: \(item.reason)", type: "missing", detail: item.reason)))
        }
        for item in comparison.uncompared {
            let message = "\(item.caseVerdict.label): \(item.kind): \(item.reason)"
            let outcome: TestCase.Outcome
            switch item.caseVerdict {
            case .failed: outcome = .error(message: message, type: "failed")
            case .missing, .newlyUnsupported, .regressed: outcome = .failure(message: message, type: item.caseVerdict.rawValue, detail: item.reason)
            default: outcome = .skipped(message: item.kind == "unsupported" ? item.reason : "\(item.kind): \(item.reason)")
            }
            cases.append(TestCase(classname: item.scenario, name: item.caseKey, outcome: outcome))
        }
        let name = "kvmbench compare: \(comparison.before.label) → \(comparison.after.label)"
        return document(suite: name, cases: cases)
    }

    /// A single run with no comparison: ok → passed, failed → `<failure>`, unsupported → `<skipped>`.
    public static func render(_ result: ResultDocument) -> String {
        let cases = result.cases.map { item in
            let outcome: TestCase.Outcome
            switch item.status {
            case .ok:
                let medians = item.metrics.map { "\($0.name) = \(UnitFormatting.format($0.median, unit: $0.unit))" }
                outcome = .passed(output: medians.joined(separator: "\n"))
            case .unsupported:
                outcome = .skipped(message: item.reason ?? "unsupported")
            case .failed:
                outcome = .failure(message: item.reason ?? "failed", type: "failed", detail: item.notes.joined(separator: "\n"))
            }
            return TestCase(classname: item.scenario, name: item.key, outcome: outcome)
        }
        return document(suite: "kvmbench run on \(result.host.hostname)", cases: cases)
    }

    private static func document(suite: String, cases: [TestCase]) -> String {
        let counts: KeyValuePairs<String, String?> = [
            "name": suite,
            "tests": String(cases.count),
            "failures": String(cases.count { $0.outcome.isFailure }),
            "errors": String(cases.count { $0.outcome.isError }),
            "skipped": String(cases.count { $0.outcome.isSkipped }),
        ]
        let body = Markup.element("testsuites", counts) {
            Markup.text("\n  ")
            Markup.element("testsuite", counts) {
                for item in cases { Markup.joined([.text("\n    "), item.markup]) }
                Markup.text("\n  ")
            }
            Markup.text("\n")
        }
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + body.source + "\n"
    }
}

/// One `<testcase>` and how it ended.
private struct TestCase {
    enum Outcome {
        case passed(output: String)
        case failure(message: String, type: String, detail: String)
        case error(message: String, type: String)
        case skipped(message: String)

        var isFailure: Bool { if case .failure = self { true } else { false } }
        var isError: Bool { if case .error = self { true } else { false } }
        var isSkipped: Bool { if case .skipped = self { true } else { false } }
    }

    var classname: String
    var name: String
    var outcome: Outcome

    var markup: Markup {
        Markup.element("testcase", ["classname": classname, "name": name]) {
            switch outcome {
            case .passed(let output) where output.isEmpty: Markup.empty
            case .passed(let output): Markup.element("system-out") { output }
            case .failure(let message, let type, let detail):
                Markup.element("failure", ["message": message, "type": type]) { detail }
            case .error(let message, let type): Markup.leaf("error", ["message": message, "type": type])
            case .skipped(let message): Markup.leaf("skipped", ["message": message])
            }
        }
    }
}
