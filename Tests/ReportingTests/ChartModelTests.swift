import Testing
import Results
@testable import Reporting

@Suite("Chart models")
struct ChartModelTests {
    @Test func scalingSeriesAreCasesThatDifferOnlyInTheSweptParameter() throws {
        let cases = Fixtures.documentA().cases
        let plots = ScalingPlot.plots(scenario: "demand-paging", cases: cases)
        let plot = try #require(plots.first)
        #expect(plots.count == 1)
        #expect(plot.parameter == "vcpus")
        #expect(plot.metric == "demand_paging_rate")
        #expect(plot.showsIdeal)
        #expect(plot.series.map(\.label) == ["backing=anonymous", "backing=anonymous-thp"])
        #expect(plot.series.map { $0.points.map(\.x) } == [[1, 2, 4, 8], [1, 2, 4]])
    }

    @Test func derivedParametersDoNotSplitASweep() throws {
        let plot = try #require(ScalingPlot.plots(scenario: "memslots", cases: Fixtures.documentA().cases).first)
        #expect(plot.parameter == "slots")
        #expect(plot.series.count == 1)
        #expect(plot.series.first?.points.map(\.xLabel) == ["10", "100", "509", "32768"])
        #expect(!plot.showsIdeal)
    }

    @Test func aSingleCaseIsNoCurve() {
        #expect(ScalingPlot.plots(scenario: "dirty-logging", cases: Fixtures.documentA().cases).isEmpty)
    }

    @Test func phasesStackWithBeforeRowsFromTheComparison() throws {
        let document = Fixtures.documentA()
        let breakdown = try #require(PhaseBreakdown(scenario: "page-table", cases: document.cases,
                                                    comparisons: ComparisonIndex(Fixtures.comparison(after: document))))
        #expect(breakdown.phases == ["phase.create_mappings", "phase.update_mappings", "phase.adjust_mappings"])
        #expect(breakdown.rows.map(\.label) == ["vcpus=1", "vcpus=2 · before", "vcpus=2 · after"])
        #expect(abs((breakdown.rows.first?.total ?? 0) - 1.6) < 1e-9)

        let dirty = try #require(PhaseBreakdown(scenario: "dirty-logging", cases: document.cases, comparisons: nil))
        #expect(dirty.phases == ["populate_time", "enable_dirty_logging_time", "iteration_dirty_time", "get_dirty_log_time"])
        #expect(PhaseBreakdown.phaseName("get_dirty_log_time") == "get_dirty_log")
    }

    @Test func parameterValuesReadAsNumbers() {
        #expect(ParameterDisplay.numericValue("4") == 4)
        #expect(ParameterDisplay.numericValue("512M") == 536_870_912.0)
        #expect(ParameterDisplay.numericValue("1GiB") == 1_073_741_824.0)
        #expect(ParameterDisplay.numericValue("anonymous") == nil)
    }
}
