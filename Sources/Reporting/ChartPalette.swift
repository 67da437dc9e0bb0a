import Results

/// The colours of the HTML report, shared by its style sheet and its charts.
enum ChartPalette {
    static let regressed = "#dc2626"
    static let improved = "#16a34a"
    static let neutral = "#6b7280"
    static let noisy = "#d97706"
    static let before = "#cbd5e1"
    static let grid = "#e5e7eb"
    static let axis = "#9ca3af"
    static let ink = "#1f2937"
    /// Distinct series colours, in order of use.
    static let series = ["#2563eb", "#ea580c", "#0d9488", "#7c3aed", "#db2777", "#65a30d", "#0891b2", "#92400e"]

    static func series(_ index: Int) -> String { series[index % series.count] }

    static func verdict(_ verdict: Verdict) -> String {
        switch verdict {
        case .regressed: return regressed
        case .improved: return improved
        case .noisy, .cannotDecide: return noisy
        case .unchanged, .notSignificant: return neutral
        }
    }
}
