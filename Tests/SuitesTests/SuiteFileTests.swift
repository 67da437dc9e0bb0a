import Foundation
import Host
import Scenarios
import Pipeline
import Suites
import Testing
import TestSupport

@Suite("suite files: format, validation, overrides")
struct SuiteFileTests {
    static let good = """
        suite: tiny
        description: two demand-paging cases
        warmups: 0
        repetitions: 4
        gate:
          threshold: 7%
          alpha: 0.01
          max_cv: 0.2
          metrics:
            demand-paging:
              first_touch_time: 15%
              demand_paging_rate: default
        cases:
          - scenario: demand-paging
            matrix:
              vcpus: [1, 2]
            parameters:
              mem_per_vcpu: 16M
            repetitions: 6
        """

    @Test func readsEveryPartOfTheFormat() throws {
        let suite = try SuiteParser.parse(Self.good, file: "tiny.yaml")
        #expect(suite.name == "tiny")
        #expect(suite.warmups == 0 && suite.repetitions == 4)
        #expect(suite.gate.threshold == 0.07 && suite.gate.alpha == 0.01 && suite.gate.maxCV == 0.2)
        #expect(suite.gate.metrics["demand-paging"] == [GatedMetric(name: "first_touch_time", threshold: 0.15),
                                                        GatedMetric(name: "demand_paging_rate")])
        #expect(suite.entries.count == 1)
        let entry = try #require(suite.entries.first)
        #expect(entry.axes.map(\.key) == ["vcpus", "mem_per_vcpu"])
        #expect(entry.axis("vcpus")?.values == ["1", "2"])
        #expect(entry.axis("vcpus")?.position.line == 16)
        #expect(entry.repetitions == 6)
        #expect(suite.caseCount == 2)
        let options = suite.gate.options(scenario: "demand-paging", ignoreKernel: false)
        #expect(options.threshold(for: "first_touch_time") == 0.15)
        #expect(options.threshold(for: "demand_paging_rate") == 0.07)
        #expect(options.threshold(for: "other") == 0.07)
        #expect(suite.gate.gates(scenario: "demand-paging", metric: "first_touch_time", scenarioGate: false))
        #expect(!suite.gate.gates(scenario: "demand-paging", metric: "vcpu_time_max", scenarioGate: true))
        #expect(suite.gate.gates(scenario: "memslots", metric: "anything", scenarioGate: true))
    }

    @Test func theDefinitionAsRunReadsBackTheSame() throws {
        var suite = try SuiteParser.parse(Self.good, file: "tiny.yaml")
        suite = try SuitePlanner.apply(SuiteOverrides(axes: ["seed": ["7"], "access": ["random", "sequential"]]), to: suite)
        suite.description = "quotes \" and \\ and: colons, [brackets] # not a comment"
        let text = SuiteWriter.yaml(suite)
        var again = try SuiteParser.parse(text, file: "record")
        // Positions differ (they point into different texts); everything else must not.
        again.source = suite.source
        for index in again.entries.indices {
            again.entries[index].position = suite.entries[index].position
            for axis in again.entries[index].axes.indices {
                again.entries[index].axes[axis].position = suite.entries[index].axes[axis].position
            }
        }
        #expect(again == suite)
    }

    /// Each: a suite text, the "file:line:column" it must point at, and phrases the error must contain.
    static let rejected: [(String, String, [String])] = [
        ("suite: x\ncases:\n  - scenario: demand-paging\nrepetition: 3\n", "bad.yaml:4:1",
         ["unknown key 'repetition'", "allowed: suite, description, warmups, repetitions, gate, cases"]),
        ("cases:\n  - scenario: demand-pageing\n", "bad.yaml:2:15",
         ["unknown scenario 'demand-pageing'", "known: demand-paging"]),
        ("cases:\n  - scenario: demand-paging\n    matrix:\n      vcpu: [1, 2]\n", "bad.yaml:4:7",
         ["unknown parameter 'vcpu' for scenario demand-paging", "allowed:", "vcpus"]),
        ("cases:\n  - scenario: demand-paging\n    matrixx:\n      vcpus: [1]\n", "bad.yaml:3:5",
         ["unknown key 'matrixx' in a case", "allowed: scenario, description, matrix, parameters"]),
        ("gate:\n  treshold: 5%\ncases:\n  - scenario: demand-paging\n", "bad.yaml:2:3",
         ["unknown key 'treshold' in gate", "allowed: threshold, alpha, max_cv"]),
        ("gate:\n  threshold: lots\ncases:\n  - scenario: demand-paging\n", "bad.yaml:2:14",
         ["gate.threshold must be a fraction or percentage"]),
        ("repetitions: 0\ncases:\n  - scenario: demand-paging\n", "bad.yaml:1:14",
         ["repetitions must be a whole number of at least 1"]),
        ("cases:\n  - scenario: demand-paging\n    matrix:\n      vcpus: [1, 2\n", "bad.yaml:",
         ["not valid YAML"]),
        ("cases:\n  - scenario: demand-paging\n    parameters:\n      vcpus: [1, 2]\n", "bad.yaml:4:14",
         ["parameters take one value each"]),
        ("suite: x\n", "bad.yaml:1:1", ["a suite needs `cases:`"]),
        ("gate:\n  metrics:\n    memslots: [map.average]\ncases:\n  - scenario: demand-paging\n", "bad.yaml",
         ["gate.metrics names scenario 'memslots', which no case of this suite runs"]),
    ]

    @Test(arguments: 0..<rejected.count)
    func badSuiteFilesAreRejectedWithFileLineAndWhatIsAllowed(index: Int) {
        let (text, position, phrases) = Self.rejected[index]
        do {
            _ = try SuiteParser.parse(text, file: "bad.yaml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.kind == .usage)
            #expect(error.message.hasPrefix(position), "\(error.message)")
            for phrase in phrases { #expect(error.message.contains(phrase), "\(error.message)") }
        }
    }

    @Test func badValuesAreRejectedBeforeAnythingRunsWithTheLineOfTheirAxis() throws {
        let text = "cases:\n  - scenario: demand-paging\n    matrix:\n      vcpus: [1, 0]\n    parameters:\n      mem_per_vcpu: 16M\n"
        let suite = try SuiteParser.parse(text, file: "values.yaml")
        #expect(throws: SuiteError.self) { try SuitePlanner.plan(suite, limits: Fixtures.limits) }
        do {
            _ = try SuitePlanner.plan(suite, limits: Fixtures.limits)
        } catch {
            #expect(error.message.hasPrefix("values.yaml:4:7: demand-paging [mem_per_vcpu=16M vcpus=0]: --vcpus must be at least 1"), "\(error.message)")
        }
        let backing = try SuiteParser.parse("cases:\n  - scenario: demand-paging\n    parameters:\n      backing: ramfs\n", file: "b.yaml")
        do {
            _ = try SuitePlanner.plan(backing, limits: Fixtures.limits)
            Issue.record("ramfs accepted")
        } catch {
            #expect(error.message.hasPrefix("b.yaml:4:7:"), "\(error.message)")
            #expect(error.message.contains("valid: anonymous-4k, thp"), "\(error.message)")
        }
    }

    @Test func overridesReplaceAnAxisOrAddItWhereTheScenarioTakesIt() throws {
        let suite = try SuiteParser.parse(Self.good, file: "tiny.yaml")
        let changed = try SuitePlanner.apply(SuiteOverrides(axes: ["vcpus": ["1", "2", "4"], "backing": ["thp"]],
                                                            warmups: 2, repetitions: 9), to: suite)
        let entry = try #require(changed.entries.first)
        #expect(entry.axis("vcpus")?.values == ["1", "2", "4"])
        #expect(entry.axis("backing")?.values == ["thp"])
        #expect(entry.repetitions == nil && changed.repetitions == 9 && changed.warmups == 2)
        let plan = try SuitePlanner.plan(changed, limits: Fixtures.limits)
        #expect(plan.cases.count == 3)
        #expect(plan.cases.allSatisfy { $0.settings == RunSettings(warmups: 2, repetitions: 9) })
        #expect(plan.cases.map { $0.scenario.parameters["backing"] } == ["thp", "thp", "thp"])
        // The record is the suite as run.
        let recorded = try SuiteParser.parse(plan.record.definition, file: "record")
        #expect(recorded.entries.first?.axis("vcpus")?.values == ["1", "2", "4"])
        #expect(recorded.repetitions == 9)
    }

    @Test func anOverrideNoScenarioTakesIsAnError() throws {
        let suite = try SuiteParser.parse(Self.good, file: "tiny.yaml")
        do {
            _ = try SuitePlanner.apply(SuiteOverrides(axes: ["dirty_mode": ["ring"]]), to: suite)
            Issue.record("accepted")
        } catch {
            #expect(error.kind == .usage)
            #expect(error.message.contains("--dirty-mode: no scenario of suite tiny (demand-paging) takes 'dirty_mode'"), "\(error.message)")
        }
    }

    @Test func setParsesKeysValuesAndJoinedValues() throws {
        let plain = try SuiteOverrides.parseSet("dirty-mode=bitmap,ring")
        #expect(plain.key == "dirty_mode" && plain.values == ["bitmap", "ring"])
        let joined = try SuiteOverrides.parseSet("tests=map+unmap,rw")
        #expect(joined.values == ["map,unmap", "rw"])
        #expect(throws: SuiteError.self) { try SuiteOverrides.parseSet("novalue") }
        #expect(throws: SuiteError.self) { try SuiteOverrides.parseSet("key=") }
    }

    @Test func slotsMaxIsTheHostMaximumAndDuplicatesRunOnce() throws {
        // memslots takes `max` itself and records it as requested.
        let memslots = """
            cases:
              - scenario: memslots
                matrix:
                  slots: [10, max, 32768]
                parameters:
                  tests: unmap
                  duration: 100ms
            """
        let plan = try SuitePlanner.plan(try SuiteParser.parse(memslots, file: "m.yaml"), limits: Fixtures.limits)
        #expect(plan.cases.map { $0.scenario.parameters["slots_requested"] } == ["10", "max", "32768"])
        #expect(plan.cases.map { $0.scenario.parameters["slots_effective"] } == ["10", "32763", "32763"])
        // A scenario that does not take `max` gets the host's maximum test-slot count; a case written
        // twice runs once.
        let guest = """
            cases:
              - scenario: demand-paging
                matrix:
                  slots: [max]
                  vcpus: [1, 1]
                parameters:
                  mem_per_vcpu: 256M
            """
        let resolved = try SuitePlanner.plan(try SuiteParser.parse(guest, file: "d.yaml"), limits: Fixtures.limits)
        #expect(resolved.cases.map { $0.scenario.parameters["slots"] } == ["32763"])
        #expect(resolved.notices.contains { $0.contains("slots=max is 32763 on this host") })
        #expect(resolved.notices.contains { $0.contains("already in the suite") })
    }

    @Test func theShippedSuitesParseAndTheirScenariosExist() throws {
        let library = Fixtures.suites
        let names = library.names
        for expected in ["memslots", "demand-paging", "dirty-logging", "page-table", "zap-all", "nightly", "full"] {
            #expect(names.contains(expected), "Suites/\(expected).yaml is missing")
        }
        for name in names {
            let suite = try library.load(name)
            #expect(suite.name == name)
            #expect(suite.caseCount > 0)
        }
        let memslots = try library.load("memslots")
        #expect(memslots.entries.first?.axis("slots")?.values == ["10", "30", "50", "100", "509", "max"])
    }

    @Test(.enabled(if: HostSession.deviceUsable, "needs /dev/kvm: some scenarios read the host's capabilities to validate"))
    func theShippedSuitesValidateOnThisHost() throws {
        let host = try HostSession(devicePath: HostSession.devicePath(environment: ProcessInfo.processInfo.environment))
        for name in Fixtures.suites.names {
            let plan = try SuitePlanner.plan(try Fixtures.suites.load(name), limits: host.limits)
            #expect(!plan.cases.isEmpty)
        }
    }

    @Test func anUnknownSuiteListsTheKnownOnes() {
        do {
            _ = try Fixtures.suites.load("nighty")
            Issue.record("accepted")
        } catch {
            #expect(error.kind == .usage)
            #expect(error.message.hasPrefix("unknown suite 'nighty'; known suites: "), "\(error.message)")
            #expect(error.message.contains("nightly") && error.message.contains("memslots"))
        }
        #expect(throws: SuiteError.self) { try Fixtures.suites.load("../Suites/nightly") }
    }

    @Test func suitesAreFoundThroughTheEnvironmentOverride() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try Fixtures.write(Self.good, name: "mine.yaml", in: directory)
        let found = ProjectPaths.suites(environment: ["KVMBENCH_SUITES": directory.path])
        #expect(found.path == directory.path)
        #expect(SuiteLibrary(directory: found).names == ["mine"])
        #expect(ProjectPaths.suites(environment: [:]).lastPathComponent == "Suites")
        #expect(ProjectPaths.baselines(environment: ["KVMBENCH_BASELINES": "/x/y"]).path == "/x/y")
    }
}
