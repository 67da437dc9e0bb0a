import Foundation
import Results
import Selftests
import Testing

/// The parsers on real output: every Fixtures/selftest-*.txt is what a KVM selftest of Linux
/// 6.12.117 (Debian linux-source-6.12, built with scripts/build-selftests) printed on this
/// project's PVM host (kvm_pvm, kernel 6.18, 2 cores) on 2026-12-01, stdout and stderr together:
///
///     demand_paging_test -v 1 -b 64M
///     dirty_log_perf_test -v 1 -b 64M -i 3
///     memslot_perf_test -l 1 -r 2                 (32764 slots: the map test is ruled out)
///     memslot_perf_test -s 509 -l 1 -r 2          (-memslot_perf_test-509-slots)
///     kvm_page_table_test -v 1 -b 64M
///     access_tracking_perf_test -v 1 -b 64M       (skips itself: no idle page tracking; status 4)
///     memslot_modification_stress_test -v 1 -b 64M -i 10
///     demand_paging_test -v 9999                  (-demand_paging_test-assertion: TEST_ASSERT, status 254)
enum Capture {
    static func text(_ name: String) throws -> String {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/selftest-\(name).txt")
        return try String(contentsOf: url, encoding: .utf8)
    }

    static func parse(_ name: String, as kind: SelftestKind) throws -> SelftestReport {
        try SelftestParser.parse(try text(name), kind: kind)
    }
}

@Suite("selftest output parsers, on output captured on this host")
struct SelftestParserTests {
    @Test func demandPagingTest() throws {
        let report = try Capture.parse("demand_paging_test", as: .demandPaging)
        #expect(report.figures == [
            SelftestFigure("total_guest_execution_time", 0.818872129, unit: .seconds, better: .lower),
            SelftestFigure("per_vcpu_demand_paging_rate", 20008.007868, unit: .pagesPerSecond, better: .higher),
            SelftestFigure("overall_demand_paging_rate", 20008.007868, unit: .pagesPerSecond, better: .higher),
        ])
        #expect(report.notes == ["Testing guest mode: PA-bits:ANY, VA-bits:48,  4K pages"])
        #expect(report.skipReason == nil && report.version == nil)
    }

    @Test func dirtyLogPerfTestGivesEveryIteration() throws {
        let report = try Capture.parse("dirty_log_perf_test", as: .dirtyLogPerf)
        var expected = [SelftestFigure("populate_memory_time", 0.937965872, unit: .seconds, better: .lower),
                        SelftestFigure("enabling_dirty_logging_time", 0.000067055, unit: .seconds, better: .lower)]
        let iterations: [(Double, Double, Double)] = [(0.849546129, 0.000008846, 0.000192701),
                                                      (0.734264066, 0.000008536, 0.000187100),
                                                      (0.641232863, 0.000007815, 0.000153748)]
        for (index, (dirty, get, clear)) in iterations.enumerated() {
            expected.append(SelftestFigure("iteration_\(index + 1)_dirty_memory_time", dirty, unit: .seconds, better: .lower))
            expected.append(SelftestFigure("iteration_\(index + 1)_get_dirty_log_time", get, unit: .seconds, better: .lower))
            expected.append(SelftestFigure("iteration_\(index + 1)_clear_dirty_log_time", clear, unit: .seconds, better: .lower))
        }
        expected += [SelftestFigure("disabling_dirty_logging_time", 0.000119454, unit: .seconds, better: .lower),
                     SelftestFigure("get_dirty_log_total_time", 0.000025197, unit: .seconds, better: .lower),
                     SelftestFigure("get_dirty_log_avg_time", 0.000008399, unit: .seconds, better: .lower),
                     SelftestFigure("clear_dirty_log_total_time", 0.000533549, unit: .seconds, better: .lower),
                     SelftestFigure("clear_dirty_log_avg_time", 0.000177849, unit: .seconds, better: .lower)]
        #expect(report.figures == expected)
        #expect(report.notes.contains("Test iterations: 3"))
    }

    @Test func memslotPerfTestAtTheHostMaximumRulesOutTheMapTest() throws {
        let report = try Capture.parse("memslot_perf_test", as: .memslotPerf)
        #expect(report.figure(named: "map.best_runtime") == nil)
        #expect(report.notes.contains("map: not measured: Memslot count too high for this test, decrease the cap (max is 8209)"))
        #expect(report.figure(named: "unmap.best_runtime")?.value == 0.093643978)
        #expect(report.figure(named: "unmap.slot_setup_time") == SelftestFigure("unmap.slot_setup_time", 2.214398541, unit: .seconds, better: .lower, gate: false))
        #expect(report.figure(named: "unmap.iterations") == SelftestFigure("unmap.iterations", 11, unit: .count, better: .higher, gate: false))
        #expect(report.figure(named: "unmap_chunked.best_runtime")?.value == 0.081819815)
        #expect(report.figure(named: "move_active_area.best_runtime")?.value == 0.001328330)
        #expect(report.figure(named: "move_inactive_area.best_runtime")?.value == 0.004494502)
        #expect(report.figure(named: "rw.best_runtime")?.value == 1.729994878)
        #expect(report.figure(named: "best_slot_setup_time")?.value == 2.477066408)
        #expect(report.figures.count == 5 * 3 + 1)
    }

    @Test func memslotPerfTestAt509SlotsRunsEveryTest() throws {
        let report = try Capture.parse("memslot_perf_test-509-slots", as: .memslotPerf)
        let tests = ["map", "unmap", "unmap_chunked", "move_active_area", "move_inactive_area", "rw"]
        #expect(report.figures.filter { $0.name.hasSuffix(".best_runtime") }.map { $0.name } == tests.map { "\($0).best_runtime" })
        #expect(report.figure(named: "map.best_runtime")?.value == 0.061278643)
        #expect(report.figure(named: "map.iterations")?.value == 17)
        #expect(report.figure(named: "map.slot_setup_time")?.value == 0.031676100)
        #expect(report.notes.isEmpty)
    }

    @Test func kvmPageTableTestGivesEveryStage() throws {
        let report = try Capture.parse("kvm_page_table_test", as: .kvmPageTable)
        #expect(report.figures == [
            SelftestFigure("kvm_create_mappings_total_execution_time", 0.176003939, unit: .seconds, better: .lower),
            SelftestFigure("kvm_update_mappings_total_execution_time", 0.102240388, unit: .seconds, better: .lower),
            SelftestFigure("kvm_adjust_mappings_total_execution_time", 0.085718526, unit: .seconds, better: .lower),
        ])
        #expect(report.notes.contains("Testing memory backing src type: anonymous"))
        #expect(report.notes.contains("Number of testing vCPUs: 1"))
        #expect(!report.notes.contains { $0.contains("offset") })
    }

    @Test func accessTrackingPerfTestSkipsItselfHere() throws {
        let report = try Capture.parse("access_tracking_perf_test", as: .accessTrackingPerf)
        #expect(report.skipReason == "CONFIG_IDLE_PAGE_TRACKING is not enabled")
        #expect(report.figures.isEmpty)
        // Its phase lines ("%-30s: %ld.%09lds") are read by the same rule as the others.
        let phases = try SelftestParser.parse("Populating memory             : 0.250000000s\nMark memory idle              : 1.500000000s\n", kind: .accessTrackingPerf)
        #expect(phases.figures.map(\.name) == ["populating_memory", "mark_memory_idle"])
    }

    @Test func memslotModificationStressTestTimesNothingButMustFinish() throws {
        let report = try Capture.parse("memslot_modification_stress_test", as: .memslotModificationStress)
        #expect(report.figures.isEmpty)
        #expect(report.notes.contains("Memslot zap quirk enabled"))
        #expect(SelftestKind.memslotModificationStress.timesNothing)
        let unfinished = try Capture.text("memslot_modification_stress_test").replacingOccurrences(of: "All vCPU threads joined", with: "")
        #expect(throws: SelftestParseError.self) { try SelftestParser.parse(unfinished, kind: .memslotModificationStress) }
    }

    @Test func outputOfAnotherTestOrTruncatedOutputDoesNotParse() throws {
        let demand = try Capture.text("demand_paging_test")
        #expect(throws: SelftestParseError.self) { try SelftestParser.parse(demand, kind: .dirtyLogPerf) }
        let truncated = try Capture.text("dirty_log_perf_test").components(separatedBy: "Iteration 1").first ?? ""
        #expect(throws: SelftestParseError.self) { try SelftestParser.parse(truncated, kind: .dirtyLogPerf) }
        let twice = try Capture.text("demand_paging_test") + Capture.text("demand_paging_test")
        #expect(throws: SelftestParseError.self) { try SelftestParser.parse(twice, kind: .demandPaging) }
        #expect(throws: SelftestParseError.self) { try Capture.parse("demand_paging_test-assertion", as: .demandPaging) }
    }

    @Test func kindsAreTheBinaryNames() {
        #expect(SelftestKind(path: "/x/y/dirty_log_perf_test") == .dirtyLogPerf)
        #expect(SelftestKind(path: "memslot_perf_test") == .memslotPerf)
        #expect(SelftestKind(path: "/x/set_memory_region_test") == nil)
        #expect(SelftestParser.snakeCase("KVM_CREATE_MAPPINGS: total execution time") == "kvm_create_mappings_total_execution_time")
        #expect(SelftestParser.snakeCase("Per-vcpu demand paging rate") == "per_vcpu_demand_paging_rate")
    }
}
