import Results

/// The VM's mapping counts after every step of a page-table case (`phase_stats` "after.<step>"),
/// printed after a page-table run.
public enum MappingStepsTable {
    /// Parameters named in each table's title.
    static let titleKeys = ["vcpus", "mem_per_vcpu", "region", "backing", "guest_page_size", "write_percent"]

    /// One table per ok case of `scenario`; `steps` in order, `stepTimes` the metric timing each step.
    public static func render(_ cases: [CaseResult], scenario: String, steps: [String], stepTimes: [String: String],
                              colour: Bool) -> String {
        var text = ""
        for item in cases where item.status == .ok && item.scenario == scenario {
            guard let stats = item.phaseStats else { continue }
            let label = titleKeys.compactMap { key in item.parameters[key].map { "\(key)=\($0)" } }.joined(separator: " ")
            text += "\nKVM mappings after each step (last repetition) [\(label)]\n"
            var table = TextTable(columns: [.init("after"), .init("pages_2m", .right), .init("pages_4k", .right),
                                            .init("pages_1g", .right), .init("time", .right)])
            for step in steps {
                guard let counts = stats["after." + step] else { continue }
                let time = stepTimes[step].flatMap { item.metric(named: $0) }
                    .map { UnitFormatting.format($0.samples.last ?? $0.median, unit: $0.unit) } ?? ""
                table.append([.init(step), .init(UnitFormatting.count(counts["pages_2m"] ?? 0)),
                              .init(UnitFormatting.count(counts["pages_4k"] ?? 0)),
                              .init(UnitFormatting.count(counts["pages_1g"] ?? 0)), .init(time)])
            }
            text += table.render(colour: colour)
        }
        return text
    }
}
