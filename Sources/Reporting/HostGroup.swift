import Results

/// The documents measured on one host, reported together in one section of the HTML report.
///
/// Two documents belong to the same host when the hostname matches and their fingerprints have no
/// MMU-relevant difference (kernel, CPU, KVM module, THP mode, KVM module parameters): the same
/// machine booted into another kernel is a different host for a benchmark.
struct HostGroup: Sendable {
    var host: HostFingerprint
    var documents: [ResultDocument]

    /// Every case of every document, in document order.
    var cases: [CaseResult] { documents.flatMap(\.cases) }

    /// Scenario names in order of first appearance.
    var scenarios: [String] {
        var seen: [String] = []
        for item in cases where !seen.contains(item.scenario) { seen.append(item.scenario) }
        return seen
    }

    /// True when `other` describes this group's host.
    func matches(_ other: HostFingerprint) -> Bool {
        other.hostname == host.hostname && host.mmuRelevantDifferences(from: other).isEmpty
    }

    /// The documents grouped by host, groups in order of first appearance.
    static func grouping(_ documents: [ResultDocument]) -> [HostGroup] {
        var groups: [HostGroup] = []
        for document in documents {
            if let index = groups.firstIndex(where: { $0.matches(document.host) }) {
                groups[index].documents.append(document)
            } else {
                groups.append(HostGroup(host: document.host, documents: [document]))
            }
        }
        return groups
    }
}
