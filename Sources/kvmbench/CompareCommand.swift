import ArgumentParser
import Foundation
import Pipeline
import Reporting
import Results
import Suites

/// Flags shared by compare and gate.
struct ComparisonFlags: ParsableArguments {
    @Option(help: "Relative change that counts (0.05 or 5%); replaces the suite's default threshold, per-metric thresholds still apply.")
    var threshold: String?

    @Flag(name: .customLong("require-same-host"), help: "Refuse (exit 4) when the hosts differ in ways that change MMU behaviour.")
    var requireSameHost = false

    @Flag(name: .customLong("ignore-kernel"), help: "Leave a kernel-release difference out of the host check (comparing kernels on purpose).")
    var ignoreKernel = false

    @OptionGroup var files: ReportFiles

    func settings() throws(SuiteError) -> CompareSettings {
        var value: Double?
        if let threshold {
            guard let parsed = SuiteParser.fraction(threshold), parsed > 0, parsed <= 10 else {
                throw SuiteError(.usage, "--threshold \(threshold): expected a fraction or percentage above 0 (e.g. 0.05 or 5%)")
            }
            value = parsed
        }
        return CompareSettings(threshold: value, ignoreKernel: ignoreKernel, requireSameHost: requireSameHost)
    }

    /// Writes the requested report files (atomically).
    func writeReports(_ report: ComparisonReport, documents: [ResultDocument]) {
        let comparison = report.comparison
        var written: [(path: String, text: String)] = []
        if let markdown = files.markdown { written.append((markdown, MarkdownReport.render(comparison))) }
        if let junit = files.junit { written.append((junit, JUnitReport.render(comparison))) }
        if let html = files.html {
            written.append((html, HTMLReport.render(documents: documents, comparison: comparison,
                                                    title: "\(comparison.before.label) vs \(comparison.after.label)")))
        }
        ReportFiles.write(written, what: "write", announce: false)
    }
}

/// Where report, compare and gate write their HTML, Markdown and JUnit renderings.
struct ReportFiles: ParsableArguments {
    @Option(help: ArgumentHelp("Write a self-contained HTML report to this file.", valueName: "file"))
    var html: String?

    @Option(help: ArgumentHelp("Write a Markdown summary to this file (CI job summaries, pull-request comments).", valueName: "file"))
    var markdown: String?

    @Option(help: ArgumentHelp("Write JUnit XML to this file (one test per gated metric; per case without a comparison).", valueName: "file"))
    var junit: String?

    /// Writes each (path, text) atomically, or exits 1 naming the path; `announce` prints "wrote PATH".
    static func write(_ files: [(path: String, text: String)], what: String, announce: Bool) {
        for (path, text) in files {
            let url = URL(fileURLWithPath: path)
            do {
                try AtomicFile.write(Data(text.utf8), to: url)
                if announce { print("wrote \(url.path)") }
            } catch {
                fail(ErrorText.failed(what, path: url.path, error), status: 1)
            }
        }
    }
}

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare two runs (baseline names or result files): medians, change, significance and a verdict per metric.",
        discussion: """
        Each metric gets a verdict from the decision rule: noisy when either side's robust spread (1.4826 MAD / \
        median) is above the limit (30%); cannot decide with fewer than 3 samples a side, or when the sample \
        counts cannot reach p < alpha at all (3 against 3: the smallest two-sided p is 0.10); regressed/improved \
        only when the Mann-Whitney U p-value (exact permutation p, ties included, for small samples) is below \
        alpha (0.05) AND the whole 95% bootstrap interval of median(after)/median(before) lies beyond 1 +/- \
        threshold; unchanged only when that whole interval lies within 1 +/- threshold; else cannot decide (the \
        interval straddles the threshold). The Detectable column is the smallest change the comparison detects \
        with probability 0.8 from the sample counts and spreads ("none": no change can be significant). \
        Thresholds and gated metrics come from the suite's gate section (recorded in the before document, else \
        the after one). A case measured while other processes used more than the suite's max_host_busy (10%) of \
        the CPUs on either side is noisy. Cases match by scenario and all parameters; against a reference \
        baseline, by scenario and the parameters the reference names (e.g. slots), and no significance is \
        possible.

        The table prints a summary first (verdict counts of the gated and of the informational metrics; the gated \
        metrics that regressed or improved, with ratio [95% CI], threshold and p; the gated metrics the samples \
        could not decide, with the smallest detectable change), then each case's gated metrics. Informational \
        metrics are counted, per case and among the changes; --verbose lists them.

        Exit status: 0 compared, 4 a side missing/unreadable/newer, no shared cases, or different hosts \
        with --require-same-host, 64 usage.
        """)

    @Argument(help: "The before side: a baseline name (kvmbench baseline list) or a result file.")
    var before: String

    @Argument(help: "The after side: a baseline name or a result file.")
    var after: String

    @Flag(help: "Print the comparison as JSON.")
    var json = false

    @Option(help: "Output: table (default), or cover-letter (plain-text Test / Before / After / Improvement tables per configuration, times in seconds, as kernel patch cover letters print them).")
    var format: CompareFormat = .table

    @Flag(name: .shortAndLong, help: "List the informational (not gated) metrics one by one; by default they are counted.")
    var verbose = false

    @OptionGroup var flags: ComparisonFlags

    @OptionGroup var exports: FleetExportOptions

    func run() throws {
        let settings = SuiteCLI.orExit { () throws(SuiteError) in try flags.settings() }
        let store = BaselineStore()
        let beforeDocument = SuiteCLI.orExit { () throws(SuiteError) in try DocumentArgument.load(before, store: store) }
        let afterDocument = SuiteCLI.orExit { () throws(SuiteError) in try DocumentArgument.load(after, store: store) }
        let report = SuiteCLI.orExit { () throws(SuiteError) in
            try SuiteComparison.compare(before: beforeDocument, after: afterDocument, settings: settings)
        }
        CompareText.printWarnings(report)
        if json {
            print(String(decoding: try ResultDocument.makeEncoder().encode(report.comparison), as: UTF8.self))
        } else if format == .coverLetter {
            print(CompareText.coverLetter(report, documents: [beforeDocument.document, afterDocument.document]), terminator: "")
        } else {
            print(CompareText.render(report, listInformational: verbose), terminator: "")
        }
        flags.writeReports(report, documents: [beforeDocument.document, afterDocument.document])
        let measured = afterDocument.document
        exports.write(FleetFigure.figures(of: report.comparison), documents: [beforeDocument.document, measured],
                      host: measured.host, tool: measured.kvmbench, startedAt: measured.startedAt)
    }
}

/// What `compare --format` prints.
enum CompareFormat: String, ExpressibleByArgument, CaseIterable {
    case table
    case coverLetter = "cover-letter"
}

enum CompareText {
    /// The comparison as cover-letter tables; a reference side's notes follow the tables.
    static func coverLetter(_ report: ComparisonReport, documents: [ResultDocument]) -> String {
        let footnotes = report.involvesReference ? ["Reference figures (published, other hardware; no significance possible):"]
            + report.referenceNotes.map { "  " + $0 } : []
        return CoverLetter.render(report.comparison, documents: documents, footnotes: footnotes)
    }

    /// Host differences (loud, on stderr) and policy problems.
    static func printWarnings(_ report: ComparisonReport) {
        var text = report.hostWarning ?? ""
        for warning in report.warnings { text += "WARNING: \(warning)\n" }
        if !text.isEmpty { FileHandle.standardError.write(Data(text.utf8)) }
    }

    /// The comparison as the terminal shows it; `listInformational` lists the informational metrics
    /// rather than counting them.
    static func render(_ report: ComparisonReport, listInformational: Bool = false) -> String {
        var out = renderComparisonText(report.comparison, colour: SuiteCLI.colour, listInformational: listInformational)
        if report.involvesReference {
            out += "\n" + ComparisonReport.referenceLine + "\n"
            for note in report.referenceNotes { out += "  " + note + "\n" }
        } else {
            out += "thresholds: \(policyText(report))\n"
        }
        return out
    }

    static func policyText(_ report: ComparisonReport) -> String {
        let policy = report.policy
        var text = String(format: "%.1f%% default, alpha %.3g, spread limit %.0f%%, ", policy.threshold * 100, policy.alpha, policy.maxCV * 100)
            + "\(policy.minimumSamples) samples per side (from \(report.policySource))"
        let listed = policy.metrics.sorted { $0.key < $1.key }.map { scenario, metrics in
            "\(scenario): " + metrics.map { metric in
                metric.name + (metric.threshold.map { String(format: " %.1f%%", $0 * 100) } ?? "")
            }.joined(separator: ", ")
        }
        if !listed.isEmpty { text += "; gated metrics: " + listed.joined(separator: "; ") }
        return text
    }
}
