import Results
import Foundation

/// The scaling table of each vCPU sweep, printed after a demand-paging run: one row per count.
public enum ScalingTable {
    /// Parameters named in each table's title (what the sweep held fixed).
    static let titleKeys = ["backing", "mem_per_vcpu", "uffd", "access", "guest_page_size"]

    public static func render(_ all: [ScalingSeries], rateMetric: String, colour: Bool) -> String {
        var text = ""
        for series in all {
            let fixed = series.parameters.filter { titleKeys.contains($0.key) }
                .sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            text += "\nscaling of \(rateMetric) over vCPUs [\(fixed)]\n"
            var table = TextTable(columns: [
                .init("vCPUs", .right), .init("rate", .right), .init("per vCPU", .right),
                .init("ideal (n x \(series.baselineVCPUs == 1 ? "1 vCPU" : "\(series.baselineVCPUs) vCPUs / \(series.baselineVCPUs)"))", .right),
                .init("efficiency", .right),
            ])
            for row in series.rows {
                table.append([
                    .init("\(row.vcpus)"), .init(UnitFormatting.format(row.rate, unit: .pagesPerSecond)),
                    .init(UnitFormatting.format(row.ratePerVCPU, unit: .pagesPerSecond)),
                    .init(UnitFormatting.format(row.ideal, unit: .pagesPerSecond)),
                    .init(String(format: "%.0f%%", row.efficiency * 100)),
                ])
            }
            text += table.render(colour: colour)
        }
        return text
    }
}
