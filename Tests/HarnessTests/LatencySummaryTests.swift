import Harness
import Testing

@Suite("latency histogram")
struct LatencySummaryTests {
    @Test func percentilesOfKnownInputs() {
        let summary = LatencySummary(values: (1...1000).map { UInt64($0) })
        #expect(summary.count == 1000)
        #expect(summary.p50 == 500)
        #expect(summary.p90 == 900)
        #expect(summary.p99 == 990)
        #expect(summary.max == 1000)
        #expect(abs(summary.mean - 500.5) < 0.5)
    }

    @Test func largeValuesKeepThreeSignificantDigits() {
        // 99 faults of 20 us and one of 5 ms: p50 and p90 are 20 us, the max the outlier.
        let values = [UInt64](repeating: 20_000, count: 99) + [5_000_000]
        let summary = LatencySummary(values: values)
        #expect(abs(summary.p50 - 20_000) <= 20)
        #expect(abs(summary.p90 - 20_000) <= 20)
        #expect(abs(summary.p99 - 20_000) <= 20)
        #expect(abs(summary.max - 5_000_000) <= 5_000)
    }

    @Test func anEmptySetIsAllZero() {
        let summary = LatencySummary(values: [UInt64]())
        #expect(summary.count == 0 && summary.p50 == 0 && summary.max == 0)
    }
}
