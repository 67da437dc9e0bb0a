import Results
import Harness
import Scenarios

extension MetricDeclarationLookup {
    /// This kvmbench's declarations: every catalog scenario's `<Scenario>Metrics` (a selftest's
    /// figures by `SelftestMetrics`' rule), and `host_busy` and `repetition_time`, which the pipeline
    /// adds to every case.
    public static let kvmbench = MetricDeclarationLookup { scenario, parameters, metric, unit in
        if metric == HostLoad.metricName { return .declared(HostLoad.metric) }
        if metric == RunEstimate.metric.name { return .declared(RunEstimate.metric) }
        if scenario == SelftestScenario.name {
            return SelftestScenario.metrics.declaration(of: metric, unit: unit, test: parameters["test"])
                .map { .declared($0) } ?? .undeclared
        }
        guard let type = ScenarioCatalog.named(scenario) else { return .unknownScenario }
        guard let declares = type as? any DeclaresMetrics.Type else { return .undeclared }
        return declares.declaration(of: metric).map { .declared($0) } ?? .undeclared
    }
}
