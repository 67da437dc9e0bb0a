import Foundation
import Results

/// The CSV layout Apache Otava's `csv` test type reads: one row per run (oldest first), a `time`
/// column, the attributes `host`, `kernel` and `kvmbench`, and one column per case and gated
/// metric holding its median. A metric a run lacks is `nan`, which Otava skips.
///
/// Column names are the case key and metric joined by `.`, reduced to `[A-Za-z0-9_.-]` so they can
/// be named in an Otava configuration without quoting (`metrics: [demand-paging_vcpus_1....]`).
public enum OtavaCSV {
    public static let attributes = ["host", "kernel", "kvmbench"]

    public static func render(_ documents: [ResultDocument]) -> String {
        let runs = documents.sorted { $0.startedAt < $1.startedAt }
        var columns: [String] = []
        var rows: [[String: Double]] = []
        for document in runs {
            var row: [String: Double] = [:]
            for figure in FleetFigure.figures(of: document) {
                guard let metric = figure.metric, let value = figure.value else { continue }
                let column = columnName(caseKey: figure.caseKey, metric: metric)
                if row[column] == nil && !columns.contains(column) { columns.append(column) }
                row[column] = value
            }
            rows.append(row)
        }
        columns.sort()
        let formatter = ISO8601DateFormatter()
        var lines = [(["time"] + attributes + columns).map(field).joined(separator: ",")]
        for (document, row) in zip(runs, rows) {
            let values = columns.map { row[$0].map { $0.isFinite ? "\($0)" : "nan" } ?? "nan" }
            let cells = [formatter.string(from: document.startedAt), document.host.hostname,
                         document.host.kernelRelease, document.kvmbench.version] + values
            lines.append(cells.map(field).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `demand-paging[vcpus=1,...]` + `first_touch_time` -> `demand-paging_vcpus_1_..._first_touch_time`.
    public static func columnName(caseKey: String, metric: String) -> String {
        engineName(caseKey + "." + metric)
    }

    /// RFC 4180 quoting where a cell needs it.
    static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
