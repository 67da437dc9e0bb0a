import Results

/// One self-contained HTML file: inline CSS and inline SVG charts, no scripts, no network, no
/// external fonts. Readable on a laptop screen and printable.
///
/// Sections: a summary (verdict counts, case counts, run durations, interruption and reference
/// banners), the comparison when there is one (sides, host differences, table, before/after bars),
/// then one section per host with its fingerprint and, per scenario, a table, scaling curves,
/// phase breakdowns, cases that did not run and KVM stats deltas.
public enum HTMLReport {
    /// The report for `documents` (several hosts are grouped, one section per host) and, when given,
    /// `comparison`, whose after side's columns appear beside the matching host's results.
    public static func render(documents: [ResultDocument], comparison: DocumentComparison?, title: String) -> String {
        let groups = HostGroup.grouping(documents)
        let comparedGroup = comparison.flatMap { comparison in groups.firstIndex { $0.matches(comparison.after.host) } }
        let index = comparison.map(ComparisonIndex.init)

        return HTMLPage.document(title: title) {
            Markup.element("p", ["class": "muted"]) { subtitle(documents: documents, groups: groups) }
            contents(groups: groups, comparison: comparison)
        } body: {
            SummarySection(documents: documents, comparison: comparison).markup
            if let comparison { ComparisonSection(comparison: comparison).markup }
            for (position, group) in groups.enumerated() {
                HostSection(group: group, number: position + 1,
                            comparisons: position == comparedGroup ? index : nil,
                            compact: comparison.map { group.matches($0.after.host) || group.matches($0.before.host) } ?? false).markup
            }
        }
    }

    private static func subtitle(documents: [ResultDocument], groups: [HostGroup]) -> String {
        let versions = Set(documents.map(\.kvmbench.version)).sorted()
        let hostCount = groups.count == 1 ? "1 host" : "\(groups.count) hosts"
        let tool = versions.isEmpty ? "" : " · kvmbench " + versions.joined(separator: ", ")
        return hostCount + " · " + CaseTally(documents.flatMap(\.cases)).summaryLine + tool
    }

    private static func contents(groups: [HostGroup], comparison: DocumentComparison?) -> Markup {
        Markup.element("nav", ["class": "contents"]) {
            if comparison != nil { Markup.element("a", ["href": "#comparison"]) { "Comparison" } }
            for (position, group) in groups.enumerated() {
                Markup.element("a", ["href": "#" + HostSection.anchor(number: position + 1)]) { "Host " + group.host.hostname }
            }
        }
    }
}
