import Foundation
import Testing
import Results
@testable import Reporting

@Suite("Metric units: typed, written as symbols")
struct MetricUnitTests {
    /// One unit of every case (every prefix of the byte rates). The switch makes a new case fail
    /// to compile here until it is added to this list and to `formats`.
    static let everyCase: [MetricUnit] = {
        let cases: [MetricUnit] = [.seconds, .milliseconds, .microseconds, .nanoseconds, .pagesPerSecond,
                                   .perSecond("iterations"), .count, .percent, .ratio, .other("widgets")]
            + MetricUnit.BinaryPrefix.allCases.map { .bytesPerSecond($0) }
        for unit in cases {
            switch unit {
            case .seconds, .milliseconds, .microseconds, .nanoseconds, .perSecond, .bytesPerSecond, .count, .percent, .ratio, .other: break
            }
        }
        return cases
    }()

    @Test("every unit reads back from its symbol, and JSON holds the symbol", arguments: everyCase)
    func roundTrip(unit: MetricUnit) throws {
        #expect(MetricUnit(symbol: unit.symbol) == unit)
        let json = try JSONEncoder().encode([unit])
        #expect(String(decoding: json, as: UTF8.self) == "[\"\(unit.symbol.replacingOccurrences(of: "/", with: "\\/"))\"]")
        #expect(try JSONDecoder().decode([MetricUnit].self, from: json) == [unit])
    }

    @Test func symbolsAreTheOnesDocumentsHaveAlwaysUsed() {
        let symbols = Self.everyCase.map(\.symbol)
        #expect(symbols == ["s", "ms", "us", "ns", "pages/s", "iterations/s", "count", "%", "ratio", "widgets",
                            "B/s", "KiB/s", "MiB/s", "GiB/s", "TiB/s"])
        // Older or hand-written spellings read as the same unit; unknown ones are kept as written.
        #expect(MetricUnit(symbol: "µs") == .microseconds && MetricUnit(symbol: "μs") == .microseconds)
        #expect(MetricUnit(symbol: "x") == .ratio && MetricUnit(symbol: "×") == .ratio)
        #expect(MetricUnit(symbol: "") == .count)
        #expect(MetricUnit(symbol: "furlongs") == .other("furlongs") && MetricUnit(symbol: "furlongs").symbol == "furlongs")
        #expect(MetricUnit.seconds.isTime && MetricUnit.nanoseconds.isTime && !MetricUnit.pagesPerSecond.isTime)
    }

    @Test("every unit formats with its own scale and symbol", arguments: zip(everyCase, [
        "1,234 s", "1.23 s", "1.23 ms", "1.23 µs", "1.23 k pages/s", "1.23 k iterations/s", "1,234.4", "1,234%",
        "1,234×", "1,234 widgets", "1.21 KiB/s", "1.21 MiB/s", "1.21 GiB/s", "1.21 TiB/s", "1,234 TiB/s",
    ]))
    func formats(unit: MetricUnit, expected: String) {
        #expect(UnitFormatting.format(1234.4, unit: unit) == expected, "\(unit.symbol)")
    }

    /// Every committed result document (the first nightly baseline and the reference baselines, written
    /// by earlier versions) decodes, and each metric's unit is written back exactly as it was read.
    @Test func committedDocumentsKeepTheirUnitStrings() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let reference = root.appendingPathComponent("Baselines/reference")
        let files = [root.appendingPathComponent("Tests/Fixtures/old-documents/nightly-baseline-2026-11-24.json")]
            + (try FileManager.default.contentsOfDirectory(at: reference, includingPropertiesForKeys: nil))
                .filter { $0.pathExtension == "json" }
        #expect(files.count > 1)
        var seen: Set<MetricUnit> = []
        for file in files {
            let data = try Data(contentsOf: file)
            let document = try ResultDocument.makeDecoder().decode(ResultDocument.self, from: data)
            let written = try ResultDocument.makeEncoder().encode(document)
            #expect(try Self.units(in: data) == Self.units(in: written), "\(file.lastPathComponent)")
            #expect(try Self.units(in: data) == document.cases.flatMap { $0.metrics.map(\.unit.symbol) }, "\(file.lastPathComponent)")
            seen.formUnion(document.cases.flatMap { $0.metrics.map(\.unit) })
        }
        #expect(seen.isSuperset(of: [.seconds, .microseconds, .count, .percent, .pagesPerSecond]))
        #expect(!seen.contains { if case .other = $0 { true } else { false } }, "every committed unit is a known one")
    }

    /// The unit strings of every metric of every case, in document order, read as plain JSON.
    static func units(in data: Data) throws -> [String] {
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let cases = object?["cases"] as? [[String: Any]] ?? []
        return cases.flatMap { ($0["metrics"] as? [[String: Any]] ?? []).compactMap { $0["unit"] as? String } }
    }
}
