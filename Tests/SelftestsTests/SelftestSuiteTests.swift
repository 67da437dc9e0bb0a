import Foundation
import Results
import Scenarios
import Suites
import Testing

@Suite("selftest cases in suite files")
struct SelftestSuiteTests {
    static let limits = HostLimits(maxVCPUs: 1024, memslots: 32764, memAvailable: nil)

    static func suite(_ path: String) -> String {
        """
        suite: mixed
        repetitions: 3
        cases:
          - selftest: \(path)
            args: -v 1 -b 16M -i 2
            repetitions: 2
          - selftest: \(path)
            matrix:
              args: ["-v 1 -b 16M", "-v 2 -b 16M"]
          - scenario: demand-paging
            parameters:
              vcpus: 1
              mem_per_vcpu: 16M
        """
    }

    @Test func selftestEntriesSitBesideScenariosAndSurviveTheSuiteRecord() throws {
        let standIn = try StandIn()
        defer { standIn.remove() }
        let path = try standIn.script("dirty_log_perf_test", "true")
        let suite = try SuiteParser.parse(Self.suite(path), file: "mixed.yaml")
        #expect(suite.entries.map(\.scenario) == ["selftest", "selftest", "demand-paging"])
        #expect(suite.entries[0].axis("path")?.values == [path])
        #expect(suite.entries[0].axis("args")?.values == ["-v 1 -b 16M -i 2"])
        #expect(suite.entries[0].repetitions == 2)
        let plan = try SuitePlanner.plan(suite, limits: Self.limits)
        #expect(plan.cases.map { $0.scenario.parameters["args"] ?? "-" } == ["-v 1 -b 16M -i 2", "-v 1 -b 16M", "-v 2 -b 16M", "-"])
        #expect(plan.cases.map(\.settings.repetitions) == [2, 3, 3, 3])
        // The record written with the results reads back to the same cases.
        let again = try SuiteParser.parse(plan.record.definition, file: "suite record")
        #expect(try SuitePlanner.plan(again, limits: Self.limits).cases.map(\.scenario.parameters) == plan.cases.map(\.scenario.parameters))
        // A guest flag from the command line goes to kvmbench's scenarios only.
        let overridden = try SuitePlanner.apply(SuiteOverrides(axes: ["vcpus": ["2"]]), to: suite)
        #expect(overridden.entries.map { $0.axis("vcpus")?.values ?? [] } == [[], [], ["2"]])
    }

    @Test func badSelftestEntriesNameTheLine() throws {
        func message(_ text: String) -> String? {
            do {
                let suite = try SuiteParser.parse(text, file: "bad.yaml")
                _ = try SuitePlanner.plan(suite, limits: Self.limits)
                return nil
            } catch { return error.message }
        }
        let missing = message("cases:\n  - selftest: /nonexistent/demand_paging_test\n    args: -v 1\n")
        #expect(missing?.hasPrefix("bad.yaml:2:") == true && missing?.contains("no such file") == true, "\(missing ?? "")")
        let both = message("cases:\n  - selftest: /bin/true\n    scenario: demand-paging\n")
        #expect(both?.contains("either `scenario: NAME` or `selftest: PATH`") == true)
        let guest = message("cases:\n  - selftest: /bin/true\n    matrix:\n      vcpus: [1, 2]\n")
        #expect(guest?.contains("unknown parameter 'vcpus' for scenario selftest; allowed: args, path") == true, "\(guest ?? "")")
    }
}
