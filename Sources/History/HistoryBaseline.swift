import Foundation
import Results
import Statistics

/// What the history gate judges a run against: per case, one median per earlier accepted run of
/// the same host key (and suite), so that the run, not the repetition, is the unit of replication
/// (see `RunLevelDecision`).
public struct HistoryRunSeries: Sendable {
    /// Every case of the new run and of the newest earlier accepted run; each metric's samples are
    /// the medians of that case's earlier accepted runs, oldest first (empty for a case never
    /// measured before).
    public var document: ResultDocument
    /// The earlier accepted runs whose medians are in `document`, oldest first.
    public var runIDs: [Int64]
}

extension HistoryStore {
    /// The run series of `result`'s host key and suite: the last `last` accepted runs that started
    /// before it. With no such run every case is there with empty series (the host is collecting).
    /// `upgrade` brings a recorded case up to the current declarations (missing parameters at their
    /// defaults, renamed metrics), so that runs recorded by older versions match `result`'s cases.
    public func runSeries(for result: ResultDocument, last: Int,
                          upgrade: (CaseResult) -> CaseResult = { $0 }) throws -> HistoryRunSeries {
        precondition(last >= 1)
        let hostKey = HostKey.of(result.host)
        let started = HistoryDates.text(result.startedAt)
        let earlier = try runs(host: hostKey).filter {
            $0.hostKey == hostKey && $0.accepted && $0.startedAt < started && $0.suiteName == result.suite?.name
        }.sorted { ($0.startedAt, $0.id) < ($1.startedAt, $1.id) }.suffix(last)
        let recorded = try recordedRuns(ids: earlier.map(\.id))
        let oldestFirst = earlier.compactMap { run in recorded.first { $0.id == run.id } }
        let resultsByRun = oldestFirst.map { run in (run, run.caseResults.filter { $0.status == .ok }.map(upgrade)) }

        // A case unsupported tonight but measured before stays on the before side: the gate reports it.
        var templates = result.cases.filter { $0.status == .ok }
        var keys = Set(templates.map(\.key))
        for item in resultsByRun.last?.1 ?? [] where keys.insert(item.key).inserted { templates.append(item) }
        let cases = templates.map { template -> CaseResult in
            let measured = resultsByRun.compactMap { _, cases in cases.first { $0.key == template.key } }
            let metrics = template.metrics.map { metric in
                Metric(name: metric.name, unit: metric.unit, better: metric.better,
                       samples: measured.compactMap { $0.metric(named: metric.name) }
                           .filter { !$0.samples.isEmpty && $0.unit == metric.unit }
                           .map { Summary.median(of: $0.samples) },
                       gate: metric.gate)
            }
            return CaseResult(scenario: template.scenario, parameters: template.parameters, metrics: metrics,
                              notes: ["the medians of \(measured.count) earlier accepted runs"])
        }
        let host = oldestFirst.last?.host ?? result.host
        let document = ResultDocument(kvmbench: result.kvmbench, host: host, suite: nil,
                                      startedAt: result.startedAt, finishedAt: nil, cases: cases)
        return HistoryRunSeries(document: document, runIDs: oldestFirst.compactMap(\.id))
    }
}
