import ArgumentParser
import Foundation
import Host
import Pipeline
import Results
import Scenarios
import Suites

/// The cases a command that measures sides against each other runs (`kvmbench ab`, `kvmbench
/// sensitivity`): `run SCENARIO [flags]` as `kvmbench run` takes them, or a suite (--suite / --file
/// with --set and guest flags), planned against this host's limits, with the gate policy that judges them.
struct CaseSelection {
    /// The cases, labelled with the scenario's or the suite's name, with its notices.
    var plan: RunPlan
    /// The gate policy that judges the sides, and where it came from.
    var policy: (GatePolicy, String)
    var definition: SuiteDefinition?
    var host: HostSession

    /// The plan each block runs: its notices are printed once, before the first block.
    var blockPlan: RunPlan {
        var plan = plan
        plan.notices = []
        return plan
    }

    /// Plans the cases or exits 64 with one line. `beforeHost` runs after the input is checked and
    /// before /dev/kvm is opened (a side that cannot be set up is refused there, before any guest).
    static func select(suite: String?, file: String?, axes: SuiteAxisOptions, output: OutputOptions, command: String,
                       beforeHost: () -> Void) -> CaseSelection {
        if axes.guestFlags.first == "run" {
            if suite != nil || file != nil { fail("give either run SCENARIO or --suite/--file, not both", status: ExitStatus.usage) }
            if !axes.set.isEmpty { fail("--set is for suites; give the scenario's flags to run SCENARIO", status: ExitStatus.usage) }
            return scenario(Array(axes.guestFlags.dropFirst()), output: output, command: command, beforeHost: beforeHost)
        }
        let (parsed, overrides) = SuiteCLI.orExit { () throws(SuiteError) in
            try SuiteCLI.overrides(axes, output: output, command: command)
        }
        if let word = parsed.positional.first {
            fail("unexpected argument '\(word)' (\(command) run SCENARIO [flags], or \(command) --suite NAME)", status: ExitStatus.usage)
        }
        if suite == nil && file == nil {
            fail("give a scenario (\(command) run SCENARIO [flags]) or a suite (--suite NAME / --file PATH)", status: ExitStatus.usage)
        }
        let definition = SuiteCLI.orExit { () throws(SuiteError) in try SuiteCLI.loadSuite(name: suite, file: file) }
        let planned = SuiteCLI.orExit { () throws(SuiteError) in try SuitePlanner.apply(overrides, to: definition) }
        beforeHost()
        let host = openHost()
        let plan = SuiteCLI.orExit { () throws(SuiteError) in try SuitePlanner.plan(planned, limits: host.limits) }
        PlanExecution.preflight(plan.run, outputs: output.output.map { [$0] } ?? [])
        return CaseSelection(plan: plan.run, policy: (plan.suite.gate, "suite \(plan.suite.name) (\(plan.suite.source))"),
                             definition: plan.suite, host: host)
    }

    /// `run SCENARIO [flags]`: one scenario's cases, its flags as `kvmbench run` takes them.
    static func scenario(_ words: [String], output: OutputOptions, command: String, beforeHost: () -> Void) -> CaseSelection {
        guard let name = words.first, !name.hasPrefix("-") else {
            fail("give a scenario: \(command) run SCENARIO [flags] (scenarios: \(ScenarioCatalog.names))", status: ExitStatus.usage)
        }
        guard let scenario = ScenarioCatalog.named(name) else {
            fail("unknown scenario '\(name)' (scenarios: \(ScenarioCatalog.names))", status: ExitStatus.usage)
        }
        let (plan, host) = PlanExecution.scenarioPlan(scenario, flags: Array(words.dropFirst()), settings: output.settings,
                                                      beforeHost: beforeHost)
        PlanExecution.preflight(plan, outputs: output.output.map { [$0] } ?? [])
        return CaseSelection(plan: plan, policy: (GatePolicy(), "defaults (a single scenario)"), definition: nil, host: host)
    }
}
