import Foundation
import Results

/// The top of the HTML report: banners that must not be missed, then counts at a glance.
struct SummarySection {
    let documents: [ResultDocument]
    let comparison: DocumentComparison?

    var markup: Markup {
        Markup.element("section", ["class": "summary", "aria-label": "Summary"]) {
            for document in documents where document.interrupted {
                HTMLPieces.banner("warn", title: "Interrupted run.") {
                    "The run on \(document.host.hostname) started \(document.startedAt.formatted(.iso8601)) "
                        + "was stopped before every case had run; its results are partial."
                }
            }
            if let comparison {
                if comparison.before.isReference {
                    HTMLPieces.banner("info", title: "Before is a reference baseline") {
                        "(\(HTMLPieces.referenceText)): “\(comparison.before.label)”. "
                            + "Differences include the hardware, not only the change under test."
                    }
                }
                if !comparison.hostDifferences.isEmpty {
                    HTMLPieces.banner("warn", title: "The two sides ran on different hosts.") {
                        "\(comparison.hostDifferences.count) MMU-relevant difference(s); see the comparison below."
                    }
                }
                verdictCards(ComparisonTally(comparison))
            }
            caseCards
            if !documents.isEmpty { runCards }
        }
    }

    private func verdictCards(_ tally: ComparisonTally) -> Markup {
        var cards: [(Int, String, String)] = [
            (tally.regressed, "regressed", "v-regressed"), (tally.improved, "improved", "v-improved"),
            (tally.unchanged, "unchanged", "v-unchanged"), (tally.notSignificant, "not significant", "v-not-significant"),
            (tally.noisy, "noisy", "v-noisy"), (tally.unsupported, "unsupported", "s-unsupported"),
        ]
        if tally.cannotDecide > 0 { cards.insert((tally.cannotDecide, "cannot decide", "v-cannot-decide"), at: 3) }
        if tally.failed > 0 { cards.append((tally.failed, "failed", "s-failed")) }
        if tally.missing > 0 { cards.append((tally.missing, "on one side only", "v-unchanged")) }
        return Markup.element("div", ["class": "card-row"]) {
            Markup.element("h2", ["class": "card-row-title"]) { "Comparison" }
            for (count, label, className) in cards { card(String(count), label: label, className: count > 0 ? className : "zero") }
        }
    }

    private var caseCards: Markup {
        let tally = CaseTally(documents.flatMap(\.cases))
        return Markup.element("div", ["class": "card-row"]) {
            Markup.element("h2", ["class": "card-row-title"]) { "Cases" }
            card(String(tally.ok), label: "ok", className: tally.ok > 0 ? "s-ok" : "zero")
            card(String(tally.unsupported), label: "unsupported", className: tally.unsupported > 0 ? "s-unsupported" : "zero")
            card(String(tally.failed), label: "failed", className: tally.failed > 0 ? "s-failed" : "zero")
        }
    }

    private var runCards: Markup {
        Markup.element("div", ["class": "card-row"]) {
            Markup.element("h2", ["class": "card-row-title"]) { documents.count == 1 ? "Run" : "Runs" }
            for document in documents {
                let label = documents.count > 1 ? "on \(document.host.hostname)" : "duration"
                card(RunTiming(document).text, label: label, className: "duration",
                     detail: "started " + document.startedAt.formatted(.iso8601))
            }
        }
    }

    private func card(_ value: String, label: String, className: String, detail: String? = nil) -> Markup {
        Markup.element("div", ["class": "card " + className]) {
            Markup.element("div", ["class": "value"]) { value }
            Markup.element("div", ["class": "label"]) { label }
            if let detail { Markup.element("div", ["class": "detail"]) { detail } }
        }
    }
}
