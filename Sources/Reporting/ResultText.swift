import Foundation
import Results

/// A result document as terminal text: a header naming the host and run, then every case with its
/// metric table (median, min, max, n) and its KVM stats deltas.
///
/// - Parameter colour: true only when writing to a TTY and `NO_COLOR` is unset.
public func renderResultText(_ document: ResultDocument, colour: Bool) -> String {
    var out = ResultTextHeader(document).render(colour: colour)
    for item in document.cases {
        out += "\n" + renderCaseText(item, colour: colour)
    }
    return out
}

/// The lines above the cases: tool, host, timing, interruption, case counts.
struct ResultTextHeader {
    let document: ResultDocument
    init(_ document: ResultDocument) { self.document = document }

    func render(colour: Bool) -> String {
        let host = document.host
        var tool = "kvmbench " + document.kvmbench.version
        if let commit = document.kvmbench.gitCommit { tool += " (\(commit.prefix(12)))" }
        var lines = [
            tool.styled(.bold, colour: colour),
            "host \(host.hostname) · Linux \(host.kernelRelease) · \(host.cpuModel) · "
                + "\(host.onlineCPUs) CPUs · \(host.kvmModule) · \(host.mmuDescription)",
            "started \(document.startedAt.formatted(.iso8601))" + RunTiming(document).tookClause,
        ]
        if document.interrupted {
            lines.append("INTERRUPTED: the run was stopped before every case had run".styled(.yellow, colour: colour))
        }
        lines.append(CaseTally(document.cases).summaryLine)
        return lines.map { $0.terminalSafe + "\n" }.joined()
    }
}

/// How long a run took, from its start and finish dates.
struct RunTiming {
    let duration: TimeInterval?
    init(_ document: ResultDocument) {
        duration = document.finishedAt.map { $0.timeIntervalSince(document.startedAt) }
    }
    /// ", took 12 min 05 s", or ", not finished" when there is no finish date.
    var tookClause: String {
        duration.map { ", took " + UnitFormatting.duration($0) } ?? ", not finished"
    }
    /// "12 min 05 s", or "not finished".
    var text: String {
        duration.map(UnitFormatting.duration) ?? "not finished"
    }
}

/// One case: its label and status, the metric table, notes and non-zero KVM stats deltas.
func renderCaseText(_ item: CaseResult, colour: Bool) -> String {
    let label = ParameterDisplay.caseLabel(scenario: item.scenario, parameters: item.parameters).terminalSafe
    switch item.status {
    case .unsupported, .failed:
        let style: TextStyle = item.status == .failed ? .red : .yellow
        let reason = (item.reason ?? "no reason given").terminalSafe
        return label.styled(.bold, colour: colour) + ": "
            + item.status.rawValue.styled(style, colour: colour) + ": " + reason + "\n"
    case .ok:
        var out = label.styled(.bold, colour: colour) + "\n"
        if let cut = item.interrupted {
            out += "  " + "interrupted: \(cut.repetitionsCompleted) of \(cut.repetitionsPlanned) repetitions finished".styled(.yellow, colour: colour) + "\n"
        }
        out += indent(metricTable(item.metrics).render(colour: colour))
        for note in item.notes { out += "  note: " + note.terminalSafe + "\n" }
        let stats = item.kvmStats.filter { $0.value != 0 }.sorted { $0.key < $1.key }
        if !stats.isEmpty {
            var table = TextTable(columns: [.init("KVM stat"), .init("Delta", .right)])
            for (name, delta) in stats { table.append([.init(name), .init(UnitFormatting.count(delta))]) }
            out += indent(table.render(colour: colour))
            let zeros = item.kvmStats.count - stats.count
            if zeros > 0 { out += "  (\(zeros) KVM stats unchanged)\n" }
        }
        return out
    }
}

private func metricTable(_ metrics: [Metric]) -> TextTable {
    var table = TextTable(columns: [
        .init("Metric"), .init("Median", .right), .init("Min", .right), .init("Max", .right), .init("n", .right),
    ])
    for metric in metrics {
        guard let range = SampleRange(metric) else {
            table.append([.init(metric.name), "n/a", "n/a", "n/a", "0"])
            continue
        }
        table.append([
            .init(metric.name),
            .init(UnitFormatting.format(range.median, unit: metric.unit)),
            .init(UnitFormatting.format(range.min, unit: metric.unit)),
            .init(UnitFormatting.format(range.max, unit: metric.unit)),
            .init(String(range.count)),
        ])
    }
    return table
}

/// Every line of `text` indented by two spaces.
func indent(_ text: String) -> String {
    text.split(separator: "\n", omittingEmptySubsequences: false)
        .map { $0.isEmpty ? "" : "  " + $0 }
        .joined(separator: "\n")
}
