import Foundation
import Results
import Suites
import Testing
import TestSupport

@Suite("reference baselines transcribed from the seed documents")
struct ReferenceBaselineTests {
    static let names = [
        "reference/memslots-before-v4", "reference/memslots-scalable-v4",
        "reference/page-table-before-cmo-v6", "reference/page-table-cmo-v6",
        "reference/zap-all-before-v2", "reference/zap-all-fast-v2",
        "reference/parallel-ept-rfc-2020", "reference/tdp-mmu-rfc-2019",
    ]

    @Test func everyReferenceLoadsAndSaysWhereItComesFrom() throws {
        let store = Fixtures.baselines
        for name in Self.names {
            let loaded = try store.load(name)
            let reference = try #require(loaded.baseline?.reference, "\(name)")
            #expect(loaded.isReference)
            // The source is named (title, author, list, date), never a path on one machine.
            let title = String(reference.document.prefix { $0 != "(" }).trimmingCharacters(in: .whitespaces)
            #expect(reference.sourceFile.contains(title), "\(name): \(reference.sourceFile)")
            #expect(!reference.sourceFile.contains("/work/") && !reference.sourceFile.hasPrefix("/"), "\(name): \(reference.sourceFile)")
            #expect(loaded.baseline?.source == reference.sourceFile, "\(name)")
            #expect(!reference.hardware.isEmpty && !reference.kernel.isEmpty && !reference.parameters.isEmpty)
            for item in loaded.document.cases {
                #expect(item.status == .ok)
                #expect(item.metrics.allSatisfy { $0.samples.count == 1 && !$0.gate })
                #expect(!item.metrics.isEmpty || !item.notes.isEmpty, "\(name): a case without numbers must state its result in notes")
            }
        }
    }

    /// The memslots v4 tables: Test / Before / After for each slot count, as printed in the cover
    /// letter (committed as Fixtures/seed-003-tables.txt).
    static func seedTable() throws -> [String: [String: (Double, Double)]] {
        let text = try CoverLetterTests.seedTables
        var tables: [String: [String: (Double, Double)]] = [:]
        var current: String?
        let names = ["Map": "map.average", "Unmap 2M": "unmap-2m.average", "Unmap": "unmap.average",
                     "Move active": "move-active.average", "Move inactive": "move-inactive.average", "Slot setup": "slot_setup_time"]
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasSuffix("slots in use:") {
                let count = String(line.split(separator: " ")[0])
                current = count == "32k" ? "max" : count
                continue
            }
            guard let slots = current else { continue }
            for (label, metric) in names.sorted(by: { $0.key.count > $1.key.count }) where line.hasPrefix(label) {
                let numbers = line.dropFirst(label.count).split(separator: " ")
                    .compactMap { Double($0.hasSuffix("s") ? String($0.dropLast()) : "") }
                if numbers.count >= 2 { tables[slots, default: [:]][metric] = (numbers[0], numbers[1]) }
                break
            }
        }
        return tables
    }

    @Test func theMemslotsReferencesHoldTheSeedTableExactly() throws {
        let table = try Self.seedTable()
        #expect(table.keys.sorted() == ["10", "100", "30", "50", "509", "max"])
        let before = try Fixtures.baselines.load("reference/memslots-before-v4").document
        let after = try Fixtures.baselines.load("reference/memslots-scalable-v4").document
        var checked = 0
        for (slots, rows) in table {
            for (metric, (beforeValue, afterValue)) in rows {
                let beforeCase = try #require(before.cases.first { $0.parameters["slots"] == slots })
                let afterCase = try #require(after.cases.first { $0.parameters["slots"] == slots })
                #expect(beforeCase.metric(named: metric)?.samples == [beforeValue], "\(slots) \(metric)")
                #expect(afterCase.metric(named: metric)?.samples == [afterValue], "\(slots) \(metric)")
                checked += 1
            }
        }
        #expect(checked == 36)
    }

    @Test func comparingTheTwoMemslotsReferencesReproducesTheSeedImprovements() throws {
        let report = try SuiteComparison.compare(before: try Fixtures.baselines.load("reference/memslots-before-v4"),
                                                 after: try Fixtures.baselines.load("reference/memslots-scalable-v4"))
        #expect(report.involvesReference)
        #expect(report.comparison.metrics.count == 36)
        #expect(report.comparison.metrics.allSatisfy {
            $0.verdict == .notSignificant && !$0.gate && $0.pValue == nil
                && $0.explanation.hasPrefix("reference: no significance possible")
        })
        // "Unmap 0.0724s 0.0315s 56%" at 509 slots; "Slot setup 16.1s 0.59s 96%" at 32k.
        let unmap = try #require(report.comparison.metrics.first { $0.parameters["slots"] == "509" && $0.metric == "unmap.average" })
        #expect(abs(unmap.change - (0.0315 / 0.0724 - 1)) < 1e-12)
        #expect(Int((-unmap.change * 100).rounded()) == 56)
        let setup = try #require(report.comparison.metrics.first { $0.parameters["slots"] == "max" && $0.metric == "slot_setup_time" })
        #expect(Int((-setup.change * 100).rounded()) == 96)
    }

    /// A measured memslots document as this host writes it (requested and effective slots).
    static func measured(_ slots: [(String, String)]) -> ResultDocument {
        Fixtures.document(slots.map { requested, effective in
            CaseResult(scenario: "memslots",
                       parameters: ["vcpus": "1", "slots_requested": requested, "slots_effective": effective, "duration": "100ms"],
                       metrics: [Metric(name: "slot_setup_time", unit: .seconds, better: .lower, samples: [0.01, 0.011, 0.012, 0.0105, 0.0108]),
                                 Metric(name: "unmap.average", unit: .seconds, better: .lower, samples: [0.05, 0.051, 0.049, 0.05, 0.052])])
        })
    }

    @Test func measuredCasesMatchReferenceCasesBySlotsAndTheMaximum() throws {
        let reference = try Fixtures.baselines.load("reference/memslots-scalable-v4")
        let here = Fixtures.loaded(Self.measured([("509", "509"), ("32768", "32763"), ("77", "77")]), label: "RESULT.json")
        let report = try SuiteComparison.compare(before: reference, after: here)
        #expect(report.comparison.before.isReference && !report.comparison.after.isReference)
        let compared = Set(report.comparison.metrics.map { $0.parameters["slots_effective"] ?? "?" })
        #expect(compared == ["509", "32763"])
        let unmapMax = try #require(report.comparison.metrics.first { $0.parameters["slots_effective"] == "32763" && $0.metric == "unmap.average" })
        #expect(unmapMax.beforeSamples == [0.0351] && unmapMax.afterSamples.count == 5)
        #expect(unmapMax.verdict == .notSignificant && !unmapMax.gate)
        #expect(report.comparison.uncompared.contains { $0.kind == "only-after" && $0.parameters["slots_effective"] == "77" })
        #expect(report.comparison.uncompared.contains { $0.kind == "only-before" && $0.parameters["slots"] == "10" })
        let warning = try #require(report.hostWarning)
        #expect(warning.contains("reference/memslots-scalable-v4 is a reference baseline: published figures (after) from Intel Xeon 8167M"))
        // An effective count at this host's maximum matches `max` even when it was asked for exactly.
        let exact = ReferenceMatching.matches(
            reference: CaseResult(scenario: "memslots", parameters: ["slots": "max"]),
            measured: CaseResult(scenario: "memslots", parameters: ["slots_requested": "32763", "slots_effective": "32763"]),
            keys: ["slots"], host: Fixtures.host())
        #expect(exact)
        let small = ReferenceMatching.matches(
            reference: CaseResult(scenario: "memslots", parameters: ["slots": "max"]),
            measured: CaseResult(scenario: "memslots", parameters: ["slots_requested": "509", "slots_effective": "509"]),
            keys: ["slots"], host: Fixtures.host())
        #expect(!small)
    }

    @Test func referencesWithoutNumbersAreListedByTheirNotes() throws {
        let reference = try Fixtures.baselines.load("reference/tdp-mmu-rfc-2019")
        let here = Fixtures.loaded(Fixtures.document([Fixtures.timeCase(vcpus: 1)]), label: "RESULT.json")
        let report = try SuiteComparison.compare(before: reference, after: here)
        #expect(report.sharedCases == 1)
        #expect(report.comparison.metrics.isEmpty)
        #expect(report.referenceNotes.contains { $0.contains("reduced by 89%") })
    }
}
