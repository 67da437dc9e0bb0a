import Foundation
import Pipeline
import Results
import Scenarios
import Suites
import Testing
import TestSupport

/// Documents written by older kvmbench versions, committed as they were written, read by the
/// current code: `CurrentDeclarations` brings their cases up to the current declarations.
///
/// The fixture `Tests/Fixtures/old-documents/nightly-baseline-2026-11-24.json` is the first
/// `Baselines/nightly.json` exactly as commit 3d796f1 added it (`git show 3d796f1:Baselines/nightly.json`):
/// `kvmbench suite nightly --save-baseline nightly` of kvmbench 57289f66acd1, before
/// `guest_ad_bits` and page-table's `region` existed and before memslots' `<test>.best` was
/// renamed `<test>.fastest_iteration` (and before 99c3c98 edited that file by hand).
@Suite("documents written by older kvmbench versions")
struct OldDocumentTests {
    static let fixture = Fixtures.root.appendingPathComponent("Tests/Fixtures/old-documents/nightly-baseline-2026-11-24.json")

    static func loaded() throws -> LoadedDocument { try DocumentLoader.load(fixture, label: "old nightly") }
    static func stored() throws -> LoadedDocument { try DocumentLoader.load(fixture, label: "old nightly", asStored: true) }

    /// The cases the current code records for the old document's own suite (its recorded
    /// definition), planned for this project's host, with `axes` set, as a run records them:
    /// memslots' move method resolved to in-place as on this host and the one that recorded the
    /// fixture, and every case through `CurrentDeclarations` as every compared document is.
    static func currentCases(_ axes: [String: [String]]) throws -> [CaseResult] {
        let record = try #require(try stored().document.suite)
        let suite = try SuitePlanner.apply(SuiteOverrides(axes: axes), to: SuiteParser.parse(record.definition, file: "old record"))
        return try SuitePlanner.plan(suite, limits: Fixtures.limits).cases.map { planned in
            var parameters = planned.scenario.parameters
            if planned.name == MemslotsScenario.name { parameters["move_method"] = "in-place" }
            return CurrentDeclarations.upgrade(CaseResult(scenario: planned.name, parameters: parameters))
        }
    }

    /// The old code built guest page tables without A/D bits and gave page-table's vCPUs regions of
    /// their own: the current cases measured that way.
    static let oldBehaviour = ["guest_ad_bits": ["clear"], "region": ["private"]]

    @Test func oldCasesMatchTheCurrentCasesThatMeasureTheSameThing() throws {
        let old = try Self.loaded().document.cases
        #expect(old.count == 15)
        let current = try Self.currentCases(Self.oldBehaviour)
        let currentKeys = Set(current.map(\.key))
        let unmatched = old.filter { !currentKeys.contains($0.key) }
        // Only page-table's: since 2a46b80 its host memory is populated before the first phase
        // (recorded host_prefault=true), which the old page-table did not do; no current case
        // measures that old shape, so they must not match any.
        #expect(unmatched.map(\.scenario) == ["page-table", "page-table"])
        for item in unmatched {
            let twin = try #require(current.first { $0.scenario == item.scenario && $0.parameters["backing"] == item.parameters["backing"] })
            let differing = Set(item.parameters.keys).union(twin.parameters.keys).filter { item.parameters[$0] != twin.parameters[$0] }
            #expect(differing == ["host_prefault", "shared_region"] || differing == ["host_prefault"], "\(differing.sorted())")
        }
        // The 13 others: demand-paging (4), memslots (3), dirty-logging (4), zap-all, memslot-stress.
        #expect(old.count - unmatched.count == 13)
    }

    @Test func oldCasesReadAsWhatTheOldCodeDidNotAsTodaysDefault() throws {
        let old = try Self.loaded().document.cases
        let demandPaging = try #require(old.first { $0.scenario == "demand-paging" })
        #expect(demandPaging.parameters["guest_ad_bits"] == "clear")
        let pageTable = try #require(old.first { $0.scenario == "page-table" })
        #expect(pageTable.parameters["region"] == "private")
        // So they do not match current cases at the defaults (A/D bits preset), which measure
        // another fault path under shadow paging.
        let defaults = Set(try Self.currentCases([:]).map(\.key))
        #expect(old.filter { $0.scenario == "demand-paging" && defaults.contains($0.key) }.isEmpty)
        // memslots records no guest parameters: its cases match either way.
        #expect(old.filter { $0.scenario == "memslots" && defaults.contains($0.key) }.count == 3)
    }

    @Test func theStoredFileIsReadAsWritten() throws {
        let stored = try Self.stored().document.cases
        #expect(stored.allSatisfy { $0.parameters["guest_ad_bits"] == nil })
        #expect(stored.contains { $0.metric(named: "unmap.best") != nil })
        #expect(!stored.contains { $0.metric(named: "unmap.fastest_iteration") != nil })
    }

    @Test func everyOldMetricHasACurrentDeclaration() throws {
        for item in try Self.loaded().document.cases {
            let type = try #require(ScenarioCatalog.named(item.scenario) as? any DeclaresMetrics.Type)
            let undeclared = item.metrics.map(\.name).filter { $0 != HostLoad.metricName && type.declaration(of: $0) == nil }
            #expect(undeclared.isEmpty, "\(item.scenario): \(undeclared)")
        }
    }

    @Test func aRenamedMetricIsComparedUnderItsCurrentName() throws {
        let before = try Self.loaded()
        let oldCase = try #require(try Self.stored().document.cases.first { $0.scenario == "memslots" })
        let oldFastest = try #require(oldCase.metric(named: "unmap.best"))
        // A current memslots case of the same parameters: `.fastest_iteration` is the old `.best`,
        // and `.best` now means the best repetition's average.
        var current = try #require(before.document.cases.first { $0.scenario == "memslots" })
        current.metrics = [
            Metric(name: "unmap.fastest_iteration", unit: oldFastest.unit, better: .lower, samples: oldFastest.samples.map { $0 * 1.01 }, gate: false),
            Metric(name: "unmap.best", unit: oldFastest.unit, better: .lower, samples: oldFastest.samples.map { $0 * 3 }, gate: false),
        ]
        var document = before.document
        document.cases = [current]
        let after = LoadedDocument(document: document, baseline: nil, label: "current", url: URL(fileURLWithPath: "current.json"))
        let report = try SuiteComparison.compare(before: before, after: after)
        let compared = report.comparison.metrics.filter { $0.caseKey == current.key }
        let fastest = try #require(compared.first { $0.metric == "unmap.fastest_iteration" })
        #expect(fastest.beforeSamples == oldFastest.samples)
        // The current `.best` has no counterpart in the old document: never the old meaning.
        #expect(!compared.contains { $0.metric == "unmap.best" })
    }

    @Test func currentCasesAreLeftAsTheyAre() {
        // A current memslots case reports both names: nothing is renamed.
        let memslots = CaseResult(scenario: "memslots", parameters: ["slots_requested": "10"], metrics: [
            Metric(name: "unmap.best", unit: .seconds, better: .lower, samples: [1]),
            Metric(name: "unmap.fastest_iteration", unit: .seconds, better: .lower, samples: [0.5]),
        ])
        #expect(CurrentDeclarations.upgrade(memslots).metrics.map(\.name) == ["unmap.best", "unmap.fastest_iteration"])
        // A recorded value stays; only a missing key is filled; upgrading twice changes nothing.
        let recorded = CaseResult(scenario: "demand-paging", parameters: ["guest_ad_bits": "preset", "vcpus": "2"])
        let once = CurrentDeclarations.upgrade(recorded)
        #expect(once.parameters["guest_ad_bits"] == "preset")
        #expect(once.parameters["vcpus"] == "2")
        #expect(CurrentDeclarations.upgrade(once) == once)
    }

    @Test func whatIsFilledAndWhatIsNot() throws {
        let old = CaseResult(scenario: "demand-paging", parameters: ["vcpus": "1", "retired_knob": "7"])
        let upgraded = CurrentDeclarations.upgrade(old).parameters
        // Kept: a key the table no longer declares (so such a case matches no current one).
        #expect(upgraded["retired_knob"] == "7")
        // Filled as the current code records the defaults.
        #expect(upgraded["backing"] == "anonymous-4k")
        #expect(upgraded["uffd"] == "none")
        // Not filled: recorded only away from the default, or never recorded.
        for key in ["populate", "pin", "numa_interleave", "numa_node", "reserve_hugepages", "uffd_delay"] {
            #expect(upgraded[key] == nil, "\(key)")
        }
        // page-table records write_percent "selftest" at its default, not the declared 100.
        #expect(CurrentDeclarations.defaultsAsRecorded["page-table"]?["write_percent"] == "selftest")
        // memslots' mem_per_vcpu is derived from --vcpus: never filled.
        #expect(CurrentDeclarations.defaultsAsRecorded["memslots"]?["mem_per_vcpu"] == nil)
        // Every scenario but the selftest has its defaults; selftest and unknown scenarios are left alone.
        for type in ScenarioCatalog.all where type.name != SelftestScenario.name {
            #expect(CurrentDeclarations.defaultsAsRecorded[type.name] != nil, "\(type.name)")
        }
        let selftest = CaseResult(scenario: SelftestScenario.name, parameters: ["path": "x"])
        #expect(CurrentDeclarations.upgrade(selftest) == selftest)
        let unknown = CaseResult(scenario: "not-a-scenario", parameters: [:], metrics: [Metric(name: "unmap.best", unit: .seconds, better: .lower, samples: [1])])
        #expect(CurrentDeclarations.upgrade(unknown) == unknown)
    }
}
