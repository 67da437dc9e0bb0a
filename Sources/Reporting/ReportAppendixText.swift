import Results

extension ReportAppendix {
    /// The appendix over `cases` (the run's cases of scenario `scenario`) as text, or "" when it has nothing to show.
    public func render(_ cases: [CaseResult], scenario: String, colour: Bool) -> String {
        switch self {
        case .scaling(let rateMetric):
            let own = cases.filter { $0.scenario == scenario }
            return ScalingTable.render(ScalingView.series(own, rateMetric: rateMetric), rateMetric: rateMetric, colour: colour)
        case .mappingSteps(let steps, let stepTimes):
            return MappingStepsTable.render(cases, scenario: scenario, steps: steps, stepTimes: stepTimes, colour: colour)
        }
    }
}
