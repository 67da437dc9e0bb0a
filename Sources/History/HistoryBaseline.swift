import Foundation
import GRDB
import Results

extension HistoryDatabase {
    /// What `gate --against history` judges a run against: for every case of the last `last`
    /// accepted runs of the same host key (and suite, when the run has one), excluding the run
    /// itself, the samples of that case's last `last` accepted measured runs pooled into one
    /// "before" case. nil when no such run is recorded.
    public func pooledBaseline(for result: ResultDocument, last: Int) throws -> PooledBaseline? {
        precondition(last >= 1)
        let hostKey = HostKey.of(result.host)
        let started = HistoryDates.text(result.startedAt)
        return try queue.read { db -> PooledBaseline? in
            var runSQL = "SELECT id, host_fingerprint FROM runs WHERE accepted AND host_key = ? AND started_at <> ?"
            var runArguments: StatementArguments = [hostKey, started]
            if let suite = result.suite?.name { runSQL += " AND suite_name = ?"; runArguments += [suite] }
            runSQL += " ORDER BY started_at DESC, id DESC"
            let runs = try Row.fetchAll(db, sql: runSQL, arguments: runArguments)
            guard let newest = runs.first else { return nil }
            let recentIDs = runs.prefix(last).map { $0["id"] as Int64 }
            let allIDs = runs.map { $0["id"] as Int64 }
            let host = (try? JSONText.decode(HostFingerprint.self, newest["host_fingerprint"])) ?? result.host
            let placeholders = { (count: Int) in Array(repeating: "?", count: count).joined(separator: ",") }
            let keys = try Row.fetchAll(db, sql: """
                SELECT case_key, scenario, parameters, MAX(run_id) AS newest FROM cases
                WHERE status = 'ok' AND run_id IN (\(placeholders(recentIDs.count))) GROUP BY case_key ORDER BY MIN(id)
                """, arguments: StatementArguments(recentIDs))
            var cases: [CaseResult] = []
            var used = Set<Int64>()
            for key in keys {
                let caseKey: String = key["case_key"]
                // This case's last `last` accepted runs in which it was measured.
                let caseRuns = try Int64.fetchAll(db, sql: """
                    SELECT run_id FROM cases WHERE case_key = ? AND status = 'ok' AND run_id IN (\(placeholders(allIDs.count)))
                    ORDER BY run_id DESC LIMIT ?
                    """, arguments: StatementArguments([caseKey]) + StatementArguments(allIDs) + [last])
                used.formUnion(caseRuns)
                let rows = try Row.fetchAll(db, sql: """
                    SELECT m.name, m.unit, m.better, m.gate, m.samples FROM metrics m JOIN cases c ON m.case_id = c.id
                    WHERE c.case_key = ? AND c.status = 'ok' AND c.run_id IN (\(placeholders(caseRuns.count)))
                    ORDER BY c.run_id, m.id
                    """, arguments: StatementArguments([caseKey]) + StatementArguments(caseRuns))
                var metrics: [Metric] = []
                for row in rows {
                    let samples = (try? JSONText.decode([Double].self, row["samples"])) ?? []
                    let name: String = row["name"]
                    if let index = metrics.firstIndex(where: { $0.name == name }) {
                        for sample in samples { metrics[index].append(sample) }
                    } else {
                        metrics.append(Metric(name: name, unit: MetricUnit(symbol: row["unit"]), better: Polarity(rawValue: row["better"]) ?? .lower,
                                              samples: samples, gate: row["gate"]))
                    }
                }
                let parameters = (try? JSONText.decode([String: String].self, key["parameters"])) ?? [:]
                cases.append(CaseResult(scenario: key["scenario"], parameters: parameters, metrics: metrics,
                                        notes: ["pooled from \(caseRuns.count) recorded runs"]))
            }
            let document = ResultDocument(kvmbench: result.kvmbench, host: host, suite: nil,
                                          startedAt: result.startedAt, finishedAt: nil, cases: cases)
            return PooledBaseline(document: document, runIDs: used.sorted())
        }
    }
}
