import Foundation
import Testing

/// Doctored copies of the committed real nightly result (Reports/sample/nightly.json) for the
/// history tests: the document as JSON objects, moved on in time and with its metrics scaled.
enum DoctoredNightly {
    /// The committed nightly, moved on `night` days and without `finished_at`.
    static func night(_ night: Int, of data: Data) throws -> [String: Any] {
        var document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let iso = ISO8601DateFormatter()
        let started = try #require(iso.date(from: document["started_at"] as! String))
        document["started_at"] = iso.string(from: started.addingTimeInterval(Double(night) * 86_400))
        document.removeValue(forKey: "finished_at")
        return document
    }

    /// Scales every metric of `cases` (samples, median, the median's interval) by `factor`, and the
    /// first gated metric of the first case by `step` as well. Returns that metric's name.
    @discardableResult
    static func scale(_ cases: inout [[String: Any]], by factor: Double, firstGatedBy step: Double) -> String {
        var stepped = ""
        for c in cases.indices {
            var metrics = cases[c]["metrics"] as! [[String: Any]]
            for m in metrics.indices {
                var scale = factor
                if c == 0, stepped.isEmpty, metrics[m]["gate"] as? Bool == true {
                    stepped = metrics[m]["name"] as! String
                    scale *= step
                }
                metrics[m]["samples"] = (metrics[m]["samples"] as! [Double]).map { $0 * scale }
                metrics[m]["median"] = (metrics[m]["median"] as! Double) * scale
                if var summary = metrics[m]["summary"] as? [String: Any] {
                    summary["median_interval"] = (summary["median_interval"] as? [Double])?.map { $0 * scale }
                    metrics[m]["summary"] = summary
                }
            }
            cases[c]["metrics"] = metrics
        }
        return stepped
    }
}
