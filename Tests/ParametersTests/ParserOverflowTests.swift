import Parameters
import Testing

/// Inputs fuzzing (and users) found: values past UInt64 trapped in UInt64(_:) with SIGILL.
@Suite("size and duration parsers at their limits")
struct ParserOverflowTests {
    @Test func sizesPastUInt64AreNoSizes() {
        #expect(parseSize("99999999999999999999") == nil)
        #expect(parseSize("inf") == nil)
        #expect(parseSize("1e30T") == nil)
        #expect(parseSize("16383T") == 16383 << 40)
        #expect(parseSize("15.99999999999999T") != nil)
    }

    @Test func durationsPastUInt64AreNoDurations() {
        #expect(parseDuration("1e300s") == nil)
        #expect(parseDuration("99999999999999999999999", plainUnit: 1e9) == nil)
        #expect(parseDuration("584y") == nil)
        #expect(parseDuration("500ms") == 500_000_000)
    }
}
