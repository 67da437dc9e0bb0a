import Foundation
import Results

/// A comparison as the plain-text tables of a kernel patch cover letter (seed 003, "KVM: Scalable
/// memslots implementation"): the sides, host and shared parameters first, then one block per
/// configuration ("509 slots in use:") with the rows Test / Before / After / Improvement.
///
/// - Times are printed in seconds with three significant digits ("0.0000792s", "16.1s"), as the
///   letters give them; other units keep their own ("60.5 k pages/s").
/// - Improvement is the relative change in the good direction, rounded to a whole percent:
///   (before - after) / before for a lower-is-better metric. A change below
///   `noneBelow` in either direction prints "None", as the letters do for changes within noise
///   (seed 003 prints "None" for 2.05% and "3%" for 3.1%); a change for the worse is negative.
///   When the decision rule could not confirm a change of measured sides (not significant, too few
///   samples, noisy), the figure is marked `?` and a legend says so.
/// - A block lists the case's gated metrics; a case without gated metrics (a reference comparison,
///   where nothing gates) lists every compared metric but `host_busy`.
/// - A case note that starts with a row's test name and a parenthesis ("Map (8194): ...")
///   qualifies that row's name, as the letter does for a figure measured differently.
public enum CoverLetter {
    /// Changes smaller than this (2.5%) print as "None".
    public static let noneBelow = 0.025

    /// The whole text. `documents` are the two compared documents (their case notes qualify row
    /// names); `footnotes` are printed after the tables (e.g. a reference baseline's notes).
    public static func render(_ comparison: DocumentComparison, documents: [ResultDocument] = [],
                              footnotes: [String] = []) -> String {
        var out = header(comparison)
        let blocks = self.blocks(comparison, documents: documents)
        let scenarios = orderedUnique(blocks.map(\.scenario))
        let common = commonParameters(comparison)
        for scenario in scenarios {
            let shared = common[scenario] ?? [:]
            if !shared.isEmpty {
                out += "Parameters (\(scenario)): " + ParameterDisplay.summary(shared) + "\n"
            }
        }
        for block in blocks {
            out += "\n" + (scenarios.count > 1 ? "\(block.scenario), " : "") + block.title + ":\n"
            out += table(block.rows)
            if block.rows.contains(where: \.undecided) {
                out += "(? not confirmed: not significant, too few samples or too noisy; see kvmbench compare)\n"
            }
        }
        if !comparison.uncompared.isEmpty {
            out += "\nNot compared:\n"
            for item in comparison.uncompared {
                out += "  " + ParameterDisplay.caseLabel(scenario: item.scenario, parameters: item.parameters)
                    + ": " + item.kind + ": " + item.reason + "\n"
            }
        }
        if !footnotes.isEmpty {
            out += "\n" + footnotes.map { $0 + "\n" }.joined()
        }
        return out
    }

    /// One configuration: a case present on both sides.
    struct Block {
        var scenario: String
        var title: String
        var rows: [Row]
    }

    struct Row {
        var test: String
        var before: String
        var after: String
        var improvement: String
        /// True when the figure is marked "?" (tested, not significant or noisy).
        var undecided: Bool
    }

    static func header(_ comparison: DocumentComparison) -> String {
        var out = ""
        for (title, side) in [("Before", comparison.before), ("After", comparison.after)] {
            out += "\(title): \(side.label)" + (side.isReference ? " (published figures)" : "") + "\n"
            out += "  " + hostLine(side.host) + "\n"
        }
        return out
    }

    /// "Intel Xeon 8167M, 2 CPUs, 24.0 GiB, kernel 6.18.0, kvm_pvm (kvm.tdp_mmu=N)": what a
    /// reader of the letter needs to weigh the numbers; fields a reference does not state are left out.
    static func hostLine(_ host: HostFingerprint) -> String {
        var parts = ["host " + host.cpuModel]
        if host.onlineCPUs > 0 { parts.append("\(host.onlineCPUs) CPUs") }
        if host.memTotalBytes > 0 { parts.append(UnitFormatting.bytes(host.memTotalBytes)) }
        if !host.kernelRelease.isEmpty { parts.append("kernel " + host.kernelRelease) }
        var module = host.kvmModule
        let tdp = host.kvmParameters.filter { $0.key.hasSuffix("tdp_mmu") }.sorted { $0.key < $1.key }
        if !tdp.isEmpty { module += " (" + tdp.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") + ")" }
        parts.append(module)
        return parts.joined(separator: ", ")
    }

    /// Per scenario, the parameters every compared case of it shares (printed once, above the tables).
    static func commonParameters(_ comparison: DocumentComparison) -> [String: [String: String]] {
        var out: [String: [String: String]] = [:]
        for (scenario, metrics) in Dictionary(grouping: comparison.metrics, by: \.scenario) {
            let differing = ParameterDisplay.differingKeys(metrics.map(\.parameters))
            out[scenario] = (metrics.first?.parameters ?? [:]).filter { !differing.contains($0.key) }
        }
        return out
    }

    static func blocks(_ comparison: DocumentComparison, documents: [ResultDocument]) -> [Block] {
        let notes = caseNotes(documents)
        let reference = comparison.before.isReference || comparison.after.isReference
        var differing: [String: Set<String>] = [:]
        for (scenario, metrics) in Dictionary(grouping: comparison.metrics, by: \.scenario) {
            differing[scenario] = ParameterDisplay.differingKeys(metrics.map(\.parameters))
        }
        var order: [String] = []
        var byCase: [String: [MetricComparison]] = [:]
        for metric in comparison.metrics {
            if byCase[metric.caseKey] == nil { order.append(metric.caseKey) }
            byCase[metric.caseKey, default: []].append(metric)
        }
        return order.compactMap { key in
            let metrics = byCase[key] ?? []
            guard let first = metrics.first else { return nil }
            let gated = metrics.filter(\.gate)
            let shown = gated.isEmpty ? metrics.filter { $0.metric != "host_busy" } : gated
            guard !shown.isEmpty else { return nil }
            let title = configurationTitle(first.parameters, keys: differing[first.scenario] ?? [], scenario: first.scenario)
            return Block(scenario: first.scenario, title: title,
                         rows: shown.map { row($0, notes: notes[key] ?? [], reference: reference) })
        }
    }

    /// Case key -> notes of that case in any of the documents.
    static func caseNotes(_ documents: [ResultDocument]) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for document in documents {
            for item in document.cases { out[item.key, default: []] += item.notes }
        }
        return out
    }

    static func row(_ metric: MetricComparison, notes: [String], reference: Bool) -> Row {
        let test = qualified(testName(metric.metric), notes: notes)
        let improvement = improvementText(metric, reference: reference)
        return Row(test: test, before: value(metric.beforeMedian, unit: metric.unit),
                   after: value(metric.afterMedian, unit: metric.unit),
                   improvement: improvement.text, undecided: improvement.undecided)
    }

    /// "Map (8194)" when a note of the case starts with "Map (8194):".
    static func qualified(_ name: String, notes: [String]) -> String {
        for note in notes where note.hasPrefix(name + " (") {
            guard let close = note.firstIndex(of: ")") else { continue }
            return String(note[...close])
        }
        return name
    }

    /// The row name of a metric, in the letters' words: "unmap-2m.average" -> "Unmap 2M",
    /// "slot_setup_time" -> "Slot setup", "first_touch_time" -> "First touch".
    public static func testName(_ metric: String) -> String {
        var name = metric
        for suffix in [".average", "_time"] where name.hasSuffix(suffix) && name.count > suffix.count {
            name.removeLast(suffix.count)
        }
        let words = name.split(whereSeparator: { "-_.".contains($0) }).map { word -> String in
            let text = String(word)
            if text.count <= 3, text.first?.isNumber == true { return text.uppercased() }  // 2m -> 2M, 1g -> 1G
            if text == "rw" { return "RW" }
            return text
        }
        guard let first = words.first else { return metric }
        return ([first.prefix(1).uppercased() + first.dropFirst()] + words.dropFirst()).joined(separator: " ")
    }

    /// Seconds with three significant digits, no exponent ("0.0000792s"); other units as reports print them.
    public static func value(_ value: Double, unit: MetricUnit) -> String {
        guard case .time(let factor) = UnitKind(unit) else { return UnitFormatting.format(value, unit: unit) }
        let seconds = value * factor
        guard seconds.isFinite else { return "n/a" }
        guard seconds != 0 else { return "0s" }
        let magnitude = Int(floor(log10(abs(seconds))))
        return NumberText.fixed(seconds, decimals: max(0, 2 - magnitude)) + "s"
    }

    /// The improvement in whole percent (" 4%", "56%", "-12%") or "None"; `undecided` when the
    /// decision rule could not confirm the change (not significant, too few samples, noisy). A
    /// reference side has one published figure per metric: nothing can be confirmed, nothing is marked.
    static func improvementText(_ metric: MetricComparison, reference: Bool) -> (text: String, undecided: Bool) {
        let gain = metric.better == .lower ? -metric.change : metric.change
        guard gain.isFinite else { return ("n/a", false) }
        if abs(gain) < noneBelow { return ("None", false) }
        // Round half away from zero; the epsilon keeps 13.5% (0.0001 -> 0.0000865) from becoming 13%.
        let percent = Int((abs(gain) * 100 + 1e-9).rounded(.toNearestOrAwayFromZero)) * (gain < 0 ? -1 : 1)
        var text = "\(percent)%"
        while text.count < 3 { text = " " + text }
        let undecided = !reference && (metric.verdict == .notSignificant || metric.verdict == .noisy)
        return (undecided ? text + "?" : text, undecided)
    }

    /// "509 slots in use", "4 vCPUs, backing thp": the parameters that tell the cases of a scenario apart.
    static func configurationTitle(_ parameters: [String: String], keys: Set<String>, scenario: String) -> String {
        var parts: [String] = []
        var remaining = keys
        let slotKeys: Set<String> = ["slots", "slots_requested", "slots_effective"]
        if !remaining.isDisjoint(with: slotKeys) {
            let effective = parameters["slots_effective"] ?? parameters["slots"] ?? "?"
            let requested = parameters["slots_requested"]
            var phrase = "\(effective) slots in use"
            if let requested, requested != effective { phrase += " (\(requested == "max" ? "host maximum" : "asked \(requested)"))" }
            parts.append(phrase)
            remaining.subtract(slotKeys)
        }
        for (key, value) in ParameterDisplay.ordered(parameters.filter { remaining.contains($0.key) }) {
            switch key {
            case "vcpus": parts.append("\(value) vCPU" + (value == "1" ? "" : "s"))
            case "mem_per_vcpu": parts.append("\(value) per vCPU")
            case "backing": parts.append("backing \(value)")
            default: parts.append("\(key)=\(value)")
            }
        }
        return parts.isEmpty ? scenario : parts.joined(separator: ", ")
    }

    /// The rows in the letters' layout: left-aligned columns at least 16 wide, the improvement
    /// right-aligned in three characters ("56%", " 4%") as seed 003 prints it.
    static func table(_ rows: [Row]) -> String {
        func width(_ cells: [String], _ title: String) -> Int { max(16, (cells + [title]).map(\.count).max()! + 2) }
        let testWidth = width(rows.map(\.test), "Test")
        let beforeWidth = width(rows.map(\.before), "Before")
        let afterWidth = width(rows.map(\.after), "After")
        func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(1, width - text.count)) }
        var out = pad("Test", testWidth) + pad("Before", beforeWidth) + pad("After", afterWidth) + "Improvement\n"
        for row in rows {
            out += pad(row.test, testWidth) + pad(row.before, beforeWidth) + pad(row.after, afterWidth) + row.improvement + "\n"
        }
        return out
    }

    static func orderedUnique(_ items: [String]) -> [String] {
        var seen: Set<String> = []
        return items.filter { seen.insert($0).inserted }
    }
}
