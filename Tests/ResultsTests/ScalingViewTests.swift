import Reporting
import Results
import Testing

@Suite("scaling view over a vCPU sweep")
struct ScalingViewTests {
    let efficiency = MetricDefinition("scaling_efficiency", unit: .percent, better: .higher, gated: false)
    func result(vcpus: Int, rate: Double?, backing: String = "anonymous-4k", status: CaseStatus = .ok) -> CaseResult {
        var metrics: [Metric] = []
        if let rate { metrics.append(Metric(name: "demand_paging_rate", unit: .pagesPerSecond, better: .higher, samples: [rate * 0.9, rate, rate * 1.1])) }
        return CaseResult(scenario: "demand-paging", parameters: ["vcpus": "\(vcpus)", "backing": backing, "mem_per_vcpu": "64M"],
                          status: status, metrics: metrics)
    }

    @Test func idealLineAndEfficiencyFromTheSingleVCPURate() throws {
        let cases = [result(vcpus: 1, rate: 100), result(vcpus: 2, rate: 180), result(vcpus: 4, rate: 200)]
        let series = ScalingView.series(cases, rateMetric: "demand_paging_rate")
        #expect(series.count == 1)
        let rows = try #require(series.first).rows
        #expect(rows.map(\.vcpus) == [1, 2, 4])
        #expect(rows.map(\.ideal) == [100, 200, 400])
        #expect(rows.map(\.ratePerVCPU) == [100, 90, 50])
        #expect(rows.map(\.efficiency) == [1, 0.9, 0.5])
        #expect(series.first?.baselineVCPUs == 1)
    }

    @Test func withoutASingleVCPUCaseTheSmallestCountIsTheBaseline() throws {
        let series = ScalingView.series([result(vcpus: 4, rate: 300), result(vcpus: 2, rate: 200)], rateMetric: "demand_paging_rate")
        let only = try #require(series.first)
        #expect(only.baselineVCPUs == 2)
        #expect(only.rows.map(\.ideal) == [200, 400])
        #expect(only.rows.map(\.efficiency) == [1, 0.75])
    }

    @Test func sweepsOfOtherParametersAreSeparateSeriesAndFailedCasesAreLeftOut() {
        let cases = [
            result(vcpus: 1, rate: 100), result(vcpus: 2, rate: 150),
            result(vcpus: 1, rate: 50, backing: "thp"), result(vcpus: 2, rate: 0, backing: "thp", status: .failed),
            result(vcpus: 1, rate: 10, backing: "shmem"), result(vcpus: 2, rate: 20, backing: "shmem"),
        ]
        let series = ScalingView.series(cases, rateMetric: "demand_paging_rate")
        #expect(series.map { $0.parameters["backing"] } == ["anonymous-4k", "shmem"])
        #expect(series.last?.rows.map(\.efficiency) == [1, 1])
    }

    @Test func annotateStoresANonGatedEfficiencyOnEachCase() throws {
        var cases = [result(vcpus: 1, rate: 100), result(vcpus: 2, rate: 150), result(vcpus: 8, rate: nil)]
        ScalingView.annotate(&cases, rateMetric: "demand_paging_rate", efficiency: efficiency)
        let metric = try #require(cases[1].metric(named: "scaling_efficiency"))
        #expect(metric.median == 75)
        #expect(metric.gate == false)
        #expect(metric.unit == .percent)
        #expect(cases[0].metric(named: "scaling_efficiency")?.median == 100)
        #expect(cases[2].metric(named: "scaling_efficiency") == nil)
        // Annotating twice replaces, never duplicates.
        ScalingView.annotate(&cases, rateMetric: "demand_paging_rate", efficiency: efficiency)
        #expect(cases[1].metrics.filter { $0.name == "scaling_efficiency" }.count == 1)
    }

    @Test func oneCountIsNoSweep() {
        #expect(ScalingView.series([result(vcpus: 2, rate: 100)], rateMetric: "demand_paging_rate").isEmpty)
    }
}
