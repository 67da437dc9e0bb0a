
/// One vCPU count of a scaling sweep.
public struct ScalingRow: Sendable, Equatable {
    public var vcpus: Int
    /// Overall rate of the case (median over repetitions), e.g. pages/s.
    public var rate: Double
    /// `rate` / `vcpus`.
    public var ratePerVCPU: Double
    /// Perfect linear scaling from the baseline: `vcpus` x the baseline's rate per vCPU.
    public var ideal: Double
    /// `rate` / `ideal`: 1 is linear scaling, 0.5 means half of the added vCPUs' work is lost.
    public var efficiency: Double
}

/// The cases of one sweep that differ only in their vCPU count.
public struct ScalingSeries: Sendable, Equatable {
    /// The parameters every case of the series shares (all but `vcpus`).
    public var parameters: [String: String]
    /// The vCPU count the ideal line starts from: 1 when the sweep has it, else its smallest count.
    public var baselineVCPUs: Int
    public var rows: [ScalingRow]
}

/// Scaling of a rate over a vCPU sweep: per count the overall rate, the rate per vCPU, the ideal
/// linear line (n x the single-vCPU rate) and the efficiency (overall / ideal). Pure: it reads
/// only the results it is given.
public enum ScalingView {
    /// One series per group of ok cases that differ only in `vcpus` and have at least two counts.
    /// When the sweep has no 1-vCPU case, the smallest count's rate per vCPU stands in for the
    /// single-vCPU rate (and `baselineVCPUs` says so). When a count appears twice in a group the
    /// first case is used.
    public static func series(_ cases: [CaseResult], rateMetric: String) -> [ScalingSeries] {
        var groups: [[String: String]: [(vcpus: Int, rate: Double)]] = [:]
        var order: [[String: String]] = []
        for result in cases where result.status == .ok {
            guard let text = result.parameters["vcpus"], let vcpus = Int(text), vcpus > 0,
                  let metric = result.metric(named: rateMetric), metric.median.isFinite, metric.median > 0 else { continue }
            var key = result.parameters
            key["vcpus"] = nil
            if groups[key] == nil { order.append(key) }
            if groups[key, default: []].contains(where: { $0.vcpus == vcpus }) { continue }
            groups[key, default: []].append((vcpus, metric.median))
        }
        return order.compactMap { key -> ScalingSeries? in
            let points = (groups[key] ?? []).sorted { $0.vcpus < $1.vcpus }
            guard points.count >= 2, let base = points.first else { return nil }
            let perVCPUBase = base.rate / Double(base.vcpus)
            let rows = points.map { point in
                let ideal = perVCPUBase * Double(point.vcpus)
                return ScalingRow(vcpus: point.vcpus, rate: point.rate, ratePerVCPU: point.rate / Double(point.vcpus),
                                  ideal: ideal, efficiency: point.rate / ideal)
            }
            return ScalingSeries(parameters: key, baselineVCPUs: base.vcpus, rows: rows)
        }
    }

    /// Adds each case's efficiency within its series (in %) as the scenario's declared `efficiency`
    /// metric, replacing an earlier one. Returns the series.
    @discardableResult
    public static func annotate(_ cases: inout [CaseResult], rateMetric: String, efficiency: MetricDefinition) -> [ScalingSeries] {
        let all = series(cases, rateMetric: rateMetric)
        for series in all {
            for row in series.rows {
                guard let index = cases.firstIndex(where: { result in
                    result.status == .ok && result.parameters["vcpus"] == "\(row.vcpus)"
                        && result.parameters.filter { $0.key != "vcpus" } == series.parameters
                }) else { continue }
                cases[index].metrics.removeAll { $0.name == efficiency.name }
                cases[index].metrics.append(Metric(efficiency, samples: [row.efficiency * 100]))
            }
        }
        return all
    }
}
