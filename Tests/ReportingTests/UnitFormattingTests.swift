import Testing
import Results
@testable import Reporting

@Suite("Units and numbers")
struct UnitFormattingTests {
    @Test("times scale to the unit that reads best", arguments: [
        (0.000123, "s", "123.0 µs"),
        (1.5, "s", "1.50 s"),
        (16.1, "s", "16.1 s"),
        (0.0000792, "s", "79.2 µs"),
        (46_078_825, "ns", "46.1 ms"),
        (1500, "ms", "1.50 s"),
        (123, "us", "123.0 µs"),
        (0.5, "ns", "0.50 ns"),
        (3600, "s", "3,600 s"),
        (0, "ms", "0 ms"),
        (-0.002, "s", "-2.00 ms"),
    ])
    func times(value: Double, unit: String, expected: String) {
        #expect(UnitFormatting.format(value, unit: MetricUnit(symbol: unit)) == expected)
    }

    @Test("rates get SI prefixes, byte rates binary ones", arguments: [
        (1_230_000, "pages/s", "1.23 M pages/s"),
        (950, "pages/s", "950.0 pages/s"),
        (45_600, "ops/s", "45.6 k ops/s"),
        (12.5, "GiB/s", "12.5 GiB/s"),
        (0.5, "GiB/s", "512.0 MiB/s"),
    ])
    func rates(value: Double, unit: String, expected: String) {
        #expect(UnitFormatting.format(value, unit: MetricUnit(symbol: unit)) == expected)
    }

    @Test func countsPercentagesAndRatios() {
        #expect(UnitFormatting.format(1_234_567, unit: .count) == "1,234,567")
        #expect(UnitFormatting.format(1234.5, unit: .count) == "1,234.5")
        #expect(UnitFormatting.format(-12, unit: .count) == "-12")
        #expect(UnitFormatting.format(12.34, unit: .percent) == "12.3%")
        #expect(UnitFormatting.format(1.234, unit: .ratio) == "1.23×")
        #expect(UnitFormatting.format(.nan, unit: .seconds) == "n/a")
        #expect(UnitFormatting.count(Int64(987_654_321)) == "987,654,321")
        #expect(UnitFormatting.bytes(8 << 30) == "8.00 GiB")
    }

    @Test("changes are signed percentages", arguments: [
        (0.123, "+12.3%"), (-0.04, "-4.0%"), (0, "0.0%"), (-0.00001, "0.0%"), (1.13, "+113.0%"), (98.0, "+9,800%"),
    ])
    func changes(relative: Double, expected: String) {
        #expect(UnitFormatting.change(relative) == expected)
    }

    @Test func pValuesAndDurations() {
        #expect(UnitFormatting.pValue(0.0081) == "0.008")
        #expect(UnitFormatting.pValue(0.43) == "0.43")
        #expect(UnitFormatting.pValue(0.0002) == "<0.001")
        #expect(UnitFormatting.pValue(nil) == "n/a")
        #expect(UnitFormatting.duration(45.2) == "45.2 s")
        #expect(UnitFormatting.duration(725) == "12 min 05 s")
        #expect(UnitFormatting.duration(3720) == "1 h 02 min")
    }

    @Test func axisTicksAreRound() {
        let ticks = ValueTicks(upTo: 0.00073)
        #expect(ticks.top >= 0.00073)
        let micro = DisplayScale(unit: .seconds, magnitude: ticks.top)
        #expect(micro.symbol == "µs")
        #expect(ticks.labels(divisor: micro.divisor) == ["0", "200", "400", "600", "800"])
        let wider = ValueTicks(upTo: 0.00093)
        let milli = DisplayScale(unit: .seconds, magnitude: wider.top)
        #expect(milli.symbol == "ms")
        #expect(wider.labels(divisor: milli.divisor) == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
    }
}
