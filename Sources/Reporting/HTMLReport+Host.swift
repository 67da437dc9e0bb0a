import Foundation
import Results

/// One host's part of the HTML report: its runs, its fingerprint, and a section per scenario.
struct HostSection {
    let group: HostGroup
    /// 1-based position of the host in the report, for anchors.
    let number: Int
    /// The comparison whose after side ran on this host, if any.
    let comparisons: ComparisonIndex?
    /// True for a side of the comparison shown above: the section leaves the per-metric tables
    /// and KVM stats deltas to the comparison (`kvmbench report FILE` shows them for one run) and
    /// keeps the fingerprint, the charts and the cases that did not run.
    var compact = false

    static func anchor(number: Int) -> String { "host-\(number)" }

    var markup: Markup {
        let host = group.host
        return Markup.element("section", ["class": "host", "id": Self.anchor(number: number)]) {
            Markup.element("h2") {
                "Host "
                Markup.element("span", ["class": "hostname"]) { host.hostname }
            }
            Markup.element("p", ["class": "muted"]) {
                "Linux \(host.kernelRelease) · \(host.cpuModel) · \(host.onlineCPUs) CPUs · \(host.kvmModule) · \(host.mmuDescription)"
            }
            runs
            FingerprintTable(host: host).markup
            if compact {
                Markup.element("p", ["class": "muted"]) {
                    "Compared above, metric by metric. Each run's full tables and KVM stats deltas: kvmbench report RESULT.json."
                }
            }
            for (position, scenario) in group.scenarios.enumerated() {
                ScenarioSection(scenario: scenario, cases: group.cases.filter { $0.scenario == scenario },
                                comparisons: comparisons, compact: compact,
                                anchor: Self.anchor(number: number) + "-scenario-\(position + 1)").markup
            }
        }
    }

    private var runs: Markup {
        var table = HTMLTable(titles: ["Run", "Started", "Duration#", "Cases", "kvmbench", "Suite"], className: "runs")
        for (position, document) in group.documents.enumerated() {
            let status = Markup.joined([
                .text(CaseTally(document.cases).summaryLine),
                document.interrupted ? .joined([.text(" "), HTMLPieces.badge("interrupted", className: "s-unsupported")]) : .empty,
            ])
            table.append([
                .init(String(position + 1)), .init(document.startedAt.formatted(.iso8601)),
                .init(RunTiming(document).text, numeric: true), .init(markup: status),
                .init(document.kvmbench.version + (document.kvmbench.gitCommit.map { " (\($0.prefix(12)))" } ?? "")),
                .init(document.suite?.name ?? "—"),
            ])
        }
        return table.markup
    }
}

/// A host fingerprint as a two-column table, with KVM module parameters and capabilities folded away.
struct FingerprintTable {
    let host: HostFingerprint

    var markup: Markup {
        var table = HTMLTable(titles: ["Host fingerprint", "Value"], className: "fingerprint")
        let rows: [(String, String)] = [
            ("Hostname", host.hostname), ("Kernel", host.kernelRelease), ("CPU", host.cpuModel),
            ("Online CPUs", String(host.onlineCPUs)), ("Memory", UnitFormatting.bytes(host.memTotalBytes)),
            ("NUMA nodes", String(host.numaNodes)), ("KVM module", host.kvmModule),
            ("MMU", host.mmu?.rawValue ?? "unknown"),
            ("Emulated CPU", host.emulated.map { $0 ? "yes: timings are behaviour, not performance" : "no" } ?? "unknown"),
            ("KVM API version", String(host.kvmAPIVersion)), ("Transparent hugepages", host.thpMode),
            ("Hugepage pools", hugepagePools), ("Topology", topology),
        ]
        for (name, value) in rows { table.append([.init(name), .init(value)]) }
        return Markup.joined([
            table.markup,
            keyValueDetails("KVM module parameters", host.kvmParameters.map { ($0.key, $0.value) }),
            keyValueDetails("KVM capabilities", host.capabilities.map { ($0.key, UnitFormatting.count($0.value)) }),
        ])
    }

    private var hugepagePools: String {
        guard !host.hugepagePools.isEmpty else { return "none" }
        return host.hugepagePools.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value) pages" }.joined(separator: ", ")
    }

    private var topology: String {
        guard let topology = host.topology else { return "unknown" }
        let caches = topology.caches.sorted { $0.key < $1.key }.map { "\($0.key) \(UnitFormatting.bytes($0.value))" }
        return "\(topology.packages) package(s), \(topology.cores) cores, \(topology.processingUnits) CPUs, "
            + "\(topology.numaNodes) NUMA node(s)" + (caches.isEmpty ? "" : "; " + caches.joined(separator: ", "))
    }

    private func keyValueDetails(_ title: String, _ pairs: [(String, String)]) -> Markup {
        guard !pairs.isEmpty else { return .empty }
        var table = HTMLTable(titles: ["Name", "Value"], className: "compact")
        for (name, value) in pairs.sorted(by: { $0.0 < $1.0 }) { table.append([.init(name), .init(value)]) }
        return Markup.element("details") {
            Markup.element("summary") { "\(title) (\(pairs.count))" }
            table.markup
        }
    }
}
