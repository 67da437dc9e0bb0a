import Results

extension Verdict {
    /// The verdict as a reader sees it: "not significant" rather than "not-significant".
    var label: String {
        switch self {
        case .improved: return "improved"
        case .regressed: return "regressed"
        case .unchanged: return "unchanged"
        case .notSignificant: return "not significant"
        case .cannotDecide: return "cannot decide"
        case .noisy: return "noisy"
        }
    }

    /// Position in every report: regressions first, then what else needs a look, unchanged last.
    var reportRank: Int {
        switch self {
        case .regressed: return 0
        case .improved: return 1
        case .noisy: return 2
        case .cannotDecide: return 3
        case .notSignificant: return 4
        case .unchanged: return 5
        }
    }

    /// Terminal colour: regressed red, improved green, noisy yellow, the rest dim.
    var textStyle: TextStyle {
        switch self {
        case .regressed: return .red
        case .improved: return .green
        case .noisy, .cannotDecide: return .yellow
        case .unchanged, .notSignificant: return .dim
        }
    }

    /// CSS class suffix in the HTML report ("v-regressed").
    var cssClass: String { "v-" + rawValue }
}

extension MetricComparison {
    /// The smallest change the comparison could detect: "±12%", "none" when the test cannot reach
    /// alpha with these sample counts, "-" when the document does not say (older kvmbench, reference).
    public var detectableText: String {
        if let detectableChange { return String(format: "±%.0f%%", detectableChange * 100) }
        guard let smallestPValue, smallestPValue < 1 else { return "-" }
        return "none"
    }

    /// How much worse the after side is, as a positive number when it got worse and negative when
    /// it got better, whatever the metric's polarity.
    var worsening: Double {
        better == .lower ? change : -change
    }
}

extension DocumentComparison {
    /// Metric comparisons in report order: regressions (worst first), improvements (best first),
    /// then noisy, not significant and unchanged, each in document order.
    var metricsInReportOrder: [MetricComparison] {
        metrics.enumerated().sorted { lhs, rhs in
            let (left, right) = (lhs.element, rhs.element)
            if left.verdict != right.verdict { return left.verdict.reportRank < right.verdict.reportRank }
            switch left.verdict {
            case .regressed where left.worsening != right.worsening: return left.worsening > right.worsening
            case .improved where left.worsening != right.worsening: return left.worsening < right.worsening
            default: return lhs.offset < rhs.offset
            }
        }.map(\.element)
    }
}
