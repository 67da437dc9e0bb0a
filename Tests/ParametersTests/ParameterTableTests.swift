import Harness
import Foundation
import Parameters
import Reporting
import Results
import Scenarios
import Suites
import Testing
import TestSupport

@Suite("parameters: one table per scenario")
struct ParameterTableTests {
    @Test func everyScenarioDeclaresEachKeyOnceWithHelpDefaultAndAllowedValues() {
        for scenario in ScenarioCatalog.all {
            let table = scenario.parameterTable
            #expect(Set(table.keys).count == table.keys.count, "\(scenario.name): a key is declared twice")
            #expect(Set(table.entries.map(\.commandLineName)).count == table.entries.count, "\(scenario.name): a flag is declared twice")
            for entry in table.entries {
                #expect(!entry.help.isEmpty && !entry.allowed.isEmpty, "\(scenario.name) \(entry.key)")
                #expect(entry.defaultText != nil || entry.key == SelftestScenario.path.key, "\(scenario.name) \(entry.key) shows no default")
            }
        }
    }

    /// The flags `kvmbench run <scenario>` took before the tables (a contract: scripts use them).
    @Test func everyFlagOfTheCommandLineIsInItsScenarioTable() {
        let guest = ["--vcpus", "--mem-per-vcpu", "--backing", "--guest-page-size", "--slots", "--access", "--write-percent",
                     "--seed", "--shared-region", "--host-prefault", "--guest-ad-bits", "--reserve-hugepages", "--pin",
                     "--numa-node", "--numa-interleave"]
        let expected: [(any Scenario.Type, [String])] = [
            (DemandPagingScenario.self, guest + ["--uffd", "--uffd-shared", "--uffd-readers", "--uffd-delay", "--populate"]),
            (MemslotsScenario.self, ["--vcpus", "--mem-per-vcpu", "--slots", "--backing", "--duration", "--tests",
                                     "--no-zap-all-quirk", "--move-method"]),
            (MemslotStressScenario.self, guest + ["--cycles", "--no-zap-all-quirk"]),
            (ZapAllScenario.self, guest + ["--triggers", "--runs"]),
            (DirtyLoggingScenario.self, guest + ["--dirty-mode", "--iterations", "--ring-size", "--concurrent", "--duration",
                                                 "--keep-running-on-disable", "--populate"]),
            (PageTableScenario.self, guest + ["--region"]),
            (MMUStressScenario.self, guest + ["--cycles", "--cycle-duration", "--chunk"]),
            (AccessTrackingScenario.self, guest),
        ]
        for (scenario, flags) in expected {
            #expect(Set(scenario.parameterTable.entries.map(\.commandLineName)) == Set(flags), "\(scenario.name)")
        }
        #expect(SelftestScenario.parameterTable.keys == ["path", "args"])
    }

    @Test func helpAndListAreGeneratedFromTheTable() {
        for scenario in ScenarioCatalog.all {
            let help = ParameterHelp.text(scenario.parameterTable, title: "PARAMETERS:")
            let list = ParameterHelp.table(scenario.parameterTable, colour: false)
            for entry in scenario.parameterTable.entries {
                #expect(help.contains(entry.commandLineName) && help.contains(entry.key), "\(scenario.name) \(entry.key)")
                #expect(list.contains(entry.commandLineName) && list.contains(entry.allowed), "\(scenario.name) \(entry.key)")
            }
            let long = help.split(separator: "\n").filter { $0.count > 78 }
            #expect(long.isEmpty, "help lines must fit 80 columns: \(long)")
        }
        let demandPaging = ParameterHelp.text(DemandPagingScenario.parameterTable, title: "")
        #expect(demandPaging.contains("uffd_readers; default 1; allowed: 1...64."))
        #expect(ParameterHelp.table(ZapAllScenario.parameterTable, colour: false).contains("2G in total, split over the vCPUs"))
    }

    @Test func commandLineFlagsBecomeListsBySweepRule() throws {
        let parsed = try CommandLineParameters.parse(
            ["--vcpus", "1,2", "--mem-per-vcpu=8M", "--shared-region", "--pin", "0,1", "--uffd", "none,missing",
             "--guest-ad-bits", "clear", "NAME"],
            table: DemandPagingScenario.parameterTable, command: "kvmbench run demand-paging")
        #expect(parsed.lists == ["vcpus": ["1", "2"], "mem_per_vcpu": ["8M"], "shared_region": ["true"], "pin": ["0,1"],
                                 "uffd": ["none", "missing"], "guest_ad_bits": ["clear"]])
        #expect(parsed.positional == ["NAME"])
        let placements = try CommandLineParameters.parse(["--pin", "none,auto"], table: GuestParameters.table, command: "x")
        #expect(placements.lists["pin"] == ["none", "auto"])
        let semicolons = try CommandLineParameters.parse(["--pin", "auto;0,1"], table: GuestParameters.table, command: "x")
        #expect(semicolons.lists["pin"] == ["auto", "0,1"])
        let memslots = try CommandLineParameters.parse(["--no-zap-all-quirk", "--tests", "map,rw", "--slots", "10,max"],
                                                       table: MemslotsScenario.parameterTable, command: "x")
        #expect(memslots.lists == ["zap_all_quirk": ["false"], "tests": ["map,rw"], "slots": ["10", "max"]])
        let zap = try CommandLineParameters.parse(["--triggers", "dirty-log,mmu-notifier", "--runs", "2,3"],
                                                  table: ZapAllScenario.parameterTable, command: "x")
        #expect(zap.lists == ["triggers": ["dirty-log,mmu-notifier"], "runs": ["2", "3"]])
    }

    @Test func badFlagsAreOneLineErrorsNamingWhatIsAllowed() {
        func message(_ arguments: [String], _ table: ParameterTable = MemslotsScenario.parameterTable) -> String? {
            do { _ = try CommandLineParameters.parse(arguments, table: table, command: "kvmbench run memslots"); return nil }
            catch { return error.message }
        }
        #expect(message(["--access", "random"])?.hasPrefix("unknown option --access for kvmbench run memslots; it takes --vcpus,") == true)
        #expect(message(["--zap-all-quirk"])?.contains("--no-zap-all-quirk") == true)
        #expect(message(["--slots"]) == "--slots needs a value <n>")
        #expect(message(["--slots", ","]) == "--slots needs at least one value")
        #expect(message(["--no-zap-all-quirk=true"]) == "--no-zap-all-quirk takes no value (got --no-zap-all-quirk=true)")
        #expect(message(["--vcpus", "2"]) == nil)
    }

    @Test func valuesAreCheckedByTheirDeclaration() {
        func message(_ values: [String: String], _ scenario: any Scenario.Type = DemandPagingScenario.self) -> String? {
            do { _ = try scenario.init(parameters: ParameterSet(values), limits: Fixtures.limits); return nil }
            catch { return error.message }
        }
        #expect(message(["guest_ad_bits": "set"]) == "--guest-ad-bits set: unknown value; valid: preset, clear")
        #expect(message(["uffd_readers": "65", "uffd": "missing"]) == "--uffd-readers 65 is out of range: allowed 1...64")
        #expect(message(["region": "both"], PageTableScenario.self) == "--region both: unknown value; valid: shared, private")
        #expect(message(["cycle_duration": "2m"], MMUStressScenario.self) == "--cycle-duration 2m: not a duration within 1ms...60s (examples: 50ms, 1s)")
        #expect(message(["move_method": "teleport"], MemslotsScenario.self) == "--move-method teleport: unknown; valid: auto, in-place, delete-create")
        #expect(message(["vcpus": "2000"])?.contains("above this host's limit of 1024") == true)
    }

    @Test func defaultsComeFromTheScenarioTable() throws {
        let limits = Fixtures.limits
        let zap = try ZapAllScenario(parameters: ParameterSet([:]), limits: limits)
        #expect(zap.guest.vcpus == 6 && zap.guest.testSize <= 2 << 30 && zap.guest.testSize > (2 << 30) - 6 * 4096)
        let pageTable = try PageTableScenario(parameters: ParameterSet([:]), limits: limits)
        #expect(pageTable.guest.backing == .thp && pageTable.guest.guestPageSize == .size2m && pageTable.guest.memoryPerVCPU == 256 << 20)
        let stress = try MMUStressScenario(parameters: ParameterSet([:]), limits: limits)
        #expect(stress.guest.vcpus == 2 && stress.cycles == 10 && stress.cycleNanos == 50_000_000 && stress.chunk == 2 << 20)
        let plain = try DemandPagingScenario(parameters: ParameterSet([:]), limits: limits)
        #expect(plain.guest.vcpus == 1 && plain.guest.memoryPerVCPU == 64 << 20)
        #expect(plain.parameters["vcpus"] == GuestParameters.vcpus.defaultText)
        #expect(plain.parameters["guest_ad_bits"] == GuestParameters.guestADBits.defaultText)
    }

    @Test func recordedParametersReadBackToTheSameCase() throws {
        let given: [(any Scenario.Type, [String: String])] = [
            (DemandPagingScenario.self, ["vcpus": "2", "uffd": "missing", "uffd_delay": "10us", "pin": "auto", "guest_ad_bits": "clear"]),
            (MemslotStressScenario.self, ["cycles": "7", "zap_all_quirk": "false"]),
            (ZapAllScenario.self, ["vcpus": "2", "triggers": "dirty-log,unrelated-slot", "runs": "3"]),
            (PageTableScenario.self, ["write_percent": "30", "region": "private"]),
            (MMUStressScenario.self, ["cycles": "3", "cycle_duration": "20ms", "chunk": "4M"]),
            (DirtyLoggingScenario.self, ["dirty_mode": "manual", "iterations": "3"]),
        ]
        for (type, values) in given {
            let first = try type.init(parameters: ParameterSet(values), limits: Fixtures.limits)
            // Memslots records slots_requested/effective; every other scenario reads its own record back.
            let again = try type.init(parameters: ParameterSet(first.parameters), limits: Fixtures.limits)
            #expect(again.parameters == first.parameters, "\(type.name)")
        }
    }

    @Test func unknownKeysNameTheScenarioAndItsFlags() {
        #expect(throws: ParameterError("unknown parameter --colour for page-table; it takes " + PageTableScenario.parameterTable.entries.map(\.commandLineName).joined(separator: ", "))) {
            _ = try PageTableScenario(parameters: ParameterSet(["colour": "red"]), limits: Fixtures.limits)
        }
    }

    /// Every case every shipped suite plans, with its recorded parameters and counts, as
    /// `kvmbench suite NAME --dry-run` of main printed them before the parameter tables
    /// (Fixtures/planned-suites.txt; limits of this project's host).
    @Test
    func shippedSuitesPlanTheSameCases() throws {
        var lines: [String] = []
        for summary in Fixtures.suites.summaries() {
            let suite = try Fixtures.suites.load(summary.name)
            let plan = try SuitePlanner.plan(suite, limits: Fixtures.limits)
            lines.append("suite \(summary.name): \(plan.cases.count) case(s)")
            for item in plan.cases {
                let parameters = item.scenario.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                lines.append("  \(item.name) [\(parameters)] warmups=\(item.settings.warmups) repetitions=\(item.settings.repetitions)")
            }
        }
        let fixture = Fixtures.root.appendingPathComponent("Tests/ParametersTests/Fixtures/planned-suites.txt")
        let expected = try String(contentsOf: fixture, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == expected.count)
        for (line, want) in zip(lines, expected) where line != want {
            Issue.record("planned case changed:\n  now  \(line)\n  main \(want)")
        }
    }
}
