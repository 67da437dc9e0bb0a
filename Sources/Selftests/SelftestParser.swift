import Foundation

/// Reads what a KVM selftest prints into figures, one per timed phase, named after the
/// selftest's words. The lines it knows (Linux 6.12's tools/testing/selftests/kvm):
///
/// - `Description: 0.818872129s` and `Description : 1.2s` (demand_paging_test, dirty_log_perf_test,
///   kvm_page_table_test, access_tracking_perf_test): a time in seconds, lower is better, named
///   by the description in snake case (`KVM_CREATE_MAPPINGS: total execution time` ->
///   `kvm_create_mappings_total_execution_time`).
/// - `Description:\t20008.007868 pgs/sec[/vcpu]`: a rate in pages/s, higher is better.
/// - `Get|Clear dirty log over N iterations took Xs. (Avg Ys/iteration)` (dirty_log_perf_test):
///   `get_dirty_log_total_time` and `get_dirty_log_avg_time` (likewise `clear_`).
/// - memslot_perf_test: `Testing <test> performance with R runs, L seconds each` opens a test
///   (`move active area` -> `move_active_area`); its `Best runtime result was Xs per iteration
///   (with N iterations)` gives `<test>.best_runtime` (s) and `<test>.iterations` (count, not gated);
///   `Test took Xs for slot setup + ...` gives `<test>.slot_setup_time`, the fastest of its runs;
///   `Best slot setup time for the whole test area was Xs` gives `best_slot_setup_time`. A test the
///   slot count rules out ("Memslot count too high for this test") becomes a note.
/// - `1..0 # SKIP reason` (kselftest's skip) and `reason, skipping test` (the KVM selftests'
///   print_skip): the reason.
/// - Set-up lines ("Testing guest mode: ...", "Number of testing vCPUs: 1", "Test iterations: 3",
///   "Memslot zap quirk enabled") become notes; addresses and random seeds are left out.
public enum SelftestParser {
    public static func parse(_ output: String, kind: SelftestKind) throws(SelftestParseError) -> SelftestReport {
        var report = SelftestReport()
        var memslotTest: String?
        var slotSetups: [String: Double] = [:]
        var sawRequiredLine = kind.required.line == nil
        for raw in output.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if let required = kind.required.line, line == required { sawRequiredLine = true }
            if let match = line.wholeMatch(of: /(?:\d+\.\.\d+ |ok \d+ )?# SKIP:? *-? *(.*)/) {
                report.skipReason = String(match.1).isEmpty ? "the selftest skipped itself" : String(match.1)
                continue
            }
            if line.hasSuffix(", skipping test") {
                report.skipReason = String(line.dropLast(", skipping test".count))
                continue
            }
            if let match = line.wholeMatch(of: /Testing (.+) performance with \d+ runs?, \d+ seconds? each/) {
                memslotTest = snakeCase(String(match.1))
                continue
            }
            if let match = line.wholeMatch(of: /Test took ([0-9.]+)s for slot setup \+ ([0-9.]+)s all iterations/),
               let test = memslotTest, let seconds = Double(match.1) {
                slotSetups[test] = min(seconds, slotSetups[test] ?? .infinity)
                continue
            }
            if let match = line.wholeMatch(of: /Best runtime result was ([0-9.]+)s per iteration \(with (\d+) iterations?\)/),
               let test = memslotTest, let seconds = Double(match.1), let iterations = Double(match.2) {
                report.figures.append(SelftestFigure("\(test).best_runtime", seconds, unit: .seconds, better: .lower))
                if let setup = slotSetups[test] {
                    report.figures.append(SelftestFigure("\(test).slot_setup_time", setup, unit: .seconds, better: .lower, gate: false))
                }
                report.figures.append(SelftestFigure("\(test).iterations", iterations, unit: .count, better: .higher, gate: false))
                continue
            }
            if let match = line.wholeMatch(of: /Best slot setup time for the whole test area was ([0-9.]+)s/),
               let seconds = Double(match.1) {
                report.figures.append(SelftestFigure("best_slot_setup_time", seconds, unit: .seconds, better: .lower))
                continue
            }
            if line.hasPrefix("Memslot count too high for this test") || line.hasPrefix("No full loops done") {
                report.notes.append("\(memslotTest.map { $0 + ": " } ?? "")not measured: \(line)")
                continue
            }
            if let match = line.wholeMatch(of: /(Get|Clear) dirty log over (\d+) iterations took ([0-9.]+)s\. \(Avg ([0-9.]+)s\/iteration\)/),
               let total = Double(match.3), let average = Double(match.4) {
                let name = snakeCase(String(match.1)) + "_dirty_log"
                report.figures.append(SelftestFigure("\(name)_total_time", total, unit: .seconds, better: .lower))
                report.figures.append(SelftestFigure("\(name)_avg_time", average, unit: .seconds, better: .lower))
                continue
            }
            if let match = line.wholeMatch(of: /(.+?)\s*:\s*([0-9]+\.[0-9]+) pgs\/sec(\/vcpu)?/), let rate = Double(match.2) {
                report.figures.append(SelftestFigure(snakeCase(String(match.1)), rate, unit: .pagesPerSecond, better: .higher))
                continue
            }
            if let match = line.wholeMatch(of: /(.+?)\s*:\s*([0-9]+\.[0-9]+)s/), let seconds = Double(match.2) {
                report.figures.append(SelftestFigure(snakeCase(String(match.1)), seconds, unit: .seconds, better: .lower))
                continue
            }
            if isSetupLine(line), !report.notes.contains(line) { report.notes.append(line) }
        }
        if report.skipReason != nil { return report }
        if let figure = kind.required.figure, report.figure(named: figure) == nil {
            throw SelftestParseError("\(kind.rawValue) printed no \(figure) figure (\(report.figures.count) other figure(s) found)")
        }
        if !sawRequiredLine, let line = kind.required.line {
            throw SelftestParseError("\(kind.rawValue) never printed '\(line)': it did not finish its run")
        }
        var seen: Set<String> = []
        for figure in report.figures where !seen.insert(figure.name).inserted {
            throw SelftestParseError("\(kind.rawValue) printed \(figure.name) twice: one run's output is expected")
        }
        return report
    }

    /// "KVM_CREATE_MAPPINGS: total execution time" -> "kvm_create_mappings_total_execution_time".
    public static func snakeCase(_ text: String) -> String {
        var out = ""
        var pendingSeparator = false
        for character in text.lowercased() {
            if character.isLetter || character.isNumber {
                if pendingSeparator, !out.isEmpty { out.append("_") }
                out.append(character)
                pendingSeparator = false
            } else {
                pendingSeparator = true
            }
        }
        return out
    }

    /// Lines that describe the run's set-up, kept as notes (not addresses or seeds, which change every run).
    static func isSetupLine(_ line: String) -> Bool {
        let prefixes = ["Testing guest mode:", "Testing memory backing src type:", "Testing memory backing src granularity:",
                        "Testing memory size", "Number of testing vCPUs:", "Test iterations:", "Memslot zap quirk",
                        "Configuring vCPUs to run in L2"]
        return prefixes.contains { line.hasPrefix($0) }
    }
}
