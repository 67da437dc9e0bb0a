import ArgumentParser
import Foundation
import Reporting
import Scenarios
import Suites

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the scenarios with their parameters (default and allowed values), and the suites.")

    func run() throws {
        let colour = isatty(STDOUT_FILENO) != 0 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        let width = ScenarioCatalog.all.map { $0.name.count }.max() ?? 0
        print("Scenarios:")
        for scenario in ScenarioCatalog.all {
            print("  " + scenario.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + scenario.summary)
        }
        let library = SuiteLibrary()
        let suites = library.summaries()
        print("Suites (\(library.directory.path)):")
        if suites.isEmpty { print("  none (set KVMBENCH_SUITES to a directory of suite files)") }
        let suiteWidth = suites.map { $0.name.count }.max() ?? 0
        for suite in suites {
            print("  " + suite.name.padding(toLength: suiteWidth, withPad: " ", startingAt: 0) + "  " + suite.line)
        }
        for scenario in ScenarioCatalog.all {
            let how = scenario == SelftestScenario.self ? "suite keys of selftest cases" : "kvmbench run \(scenario.name) --help explains each"
            print("\nParameters of \(scenario.name) (\(how)):")
            print(ParameterHelp.table(scenario.parameterTable, colour: colour), terminator: "")
        }
    }
}
