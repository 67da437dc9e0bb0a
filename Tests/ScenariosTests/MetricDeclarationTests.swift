import Testing
import Results
@testable import Scenarios

@Suite("Metrics are declared once per scenario")
struct MetricDeclarationTests {
    @Test("every catalog scenario declares its metrics, each name once", arguments: ScenarioCatalog.all.map { $0.name })
    func declaredOnce(scenario: String) throws {
        let type = try #require(ScenarioCatalog.named(scenario))
        let declares = try #require(type as? any DeclaresMetrics.Type, "\(scenario) has no <Scenario>Metrics declaration")
        let names = declares.declaredMetrics.map(\.name)
        #expect(Set(names).count == names.count, "\(scenario) declares \(names.filter { name in names.filter { $0 == name }.count > 1 }) twice")
        // Only access-tracking (probe only, every case unsupported) reports nothing yet.
        #expect(!names.isEmpty || scenario == AccessTrackingScenario.name)
    }

    @Test func aFamilyFillsItsPlaceholdersInOrder() {
        let metrics = DirtyLoggingScenario.metrics
        #expect(metrics.operationTime("harvest") == .seconds("harvest_time"))
        #expect(metrics.iterationOperation("2", "clear_dirty_log") == .seconds("iteration.2.clear_dirty_log", gated: false))
        #expect(ZapAllScenario.metrics.mappingsBefore("dirty-log").name == "dirty-log.mappings_before")
        #expect(metrics.iterationOperation.contains("iteration.3.get_dirty_log"))
        #expect(!metrics.iterationOperation.contains("iteration..get_dirty_log"))
        #expect(!metrics.operationTime.contains("_time"))
    }

    @Test func aResultNameFindsItsDeclaration() {
        let metrics = DirtyLoggingScenario.metrics
        // An exact name wins over a family it also fits ("populate_time" fits "<operation>_time").
        #expect(metrics.declaration(of: "populate_time") == metrics.populateTime)
        #expect(metrics.declaration(of: "harvest_time_total") == .seconds("harvest_time_total", gated: false))
        #expect(metrics.declaration(of: "iteration.4.dirty_pages") == .count("iteration.4.dirty_pages"))
        #expect(metrics.declaration(of: "no_such_metric") == nil)
        #expect(MemslotsScenario.metrics.declaration(of: "map.slot_setup_time")?.gated == false)
        #expect(MemslotsScenario.metrics.declaration(of: "slot_setup_time")?.gated == true)
    }
}
