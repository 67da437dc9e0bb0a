import ArgumentParser
import Foundation
import Pipeline
import Reporting
import Results
import Suites

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Re-render stored results as HTML, Markdown or JUnit without running anything; several files (e.g. one per host) merge into one report.",
        discussion: """
        Each RESULT is a result file or a baseline name. Documents from different hosts are grouped by host in
        the HTML report, which is how a fleet's nightly runs are read together. With --baseline, the first RESULT
        is compared with it (the same decision rule as kvmbench compare). Without --html, --markdown or --junit,
        the HTML report goes to Reports/<first result's name>.html. --kcidb, --bmf, --csv and --lava export
        the figures for kernel labs and dashboards (KCIDB, Bencher, Apache Otava, LAVA). Files are written atomically.
        """)

    @Argument(help: "Result files or baseline names.")
    var results: [String]

    @Option(help: "Compare the first result with this baseline (a name or a result file).")
    var baseline: String?

    @OptionGroup var files: ReportFiles

    @Option(help: "Title of the HTML report.")
    var title: String?

    @Option(help: "Relative change that counts with --baseline (0.05 or 5%).")
    var threshold: String?

    @OptionGroup var exports: FleetExportOptions

    func validate() throws {
        guard !results.isEmpty else { throw ValidationError("give at least one result file or baseline name") }
    }

    func run() throws {
        let store = BaselineStore()
        let loaded = results.map { argument in
            SuiteCLI.orExit { () throws(SuiteError) in try DocumentArgument.load(argument, store: store) }
        }
        var comparison: DocumentComparison?
        if let baseline {
            let before = SuiteCLI.orExit { () throws(SuiteError) in try DocumentArgument.load(baseline, store: store) }
            let flags = try ComparisonFlags.parse(threshold.map { ["--threshold", $0] } ?? [])
            let settings = SuiteCLI.orExit { () throws(SuiteError) in try flags.settings() }
            let report = SuiteCLI.orExit { () throws(SuiteError) in
                try SuiteComparison.compare(before: before, after: loaded[0], settings: settings)
            }
            CompareText.printWarnings(report)
            comparison = report.comparison
        }
        let documents = loaded.map(\.document)
        var written: [(path: String, text: String)] = []
        let exporting = exports.kcidb != nil || exports.bmf != nil || exports.csv != nil || exports.lava
        let htmlPath = files.html ?? ((files.markdown == nil && files.junit == nil && !exporting) ? defaultHTMLPath(for: loaded[0]) : nil)
        if let htmlPath {
            let heading = title ?? (comparison.map { "\($0.before.label) vs \($0.after.label)" } ?? "kvmbench: \(loaded.map(\.label).joined(separator: ", "))")
            written.append((htmlPath, HTMLReport.render(documents: documents, comparison: comparison, title: heading)))
        }
        if let markdown = files.markdown {
            let text = comparison.map(MarkdownReport.render) ?? documents.map(MarkdownReport.render).joined(separator: "\n")
            written.append((markdown, text))
        }
        if let junit = files.junit {
            let text = comparison.map(JUnitReport.render) ?? JUnitReport.render(documents[0])
            if comparison == nil && documents.count > 1 {
                FileHandle.standardError.write(Data("kvmbench: --junit without --baseline covers the first result only\n".utf8))
            }
            written.append((junit, text))
        }
        ReportFiles.write(written, what: "write the report", announce: true)
        // A comparison's figures carry its verdicts; plain runs' figures are measurements.
        let figures = comparison.map(FleetFigure.figures(of:)) ?? documents.flatMap(FleetFigure.figures(of:))
        let measured = documents[0]
        exports.write(figures, documents: documents, host: measured.host, tool: measured.kvmbench, startedAt: measured.startedAt)
    }

    private func defaultHTMLPath(for document: LoadedDocument) -> String {
        let name = document.url.deletingPathExtension().lastPathComponent
        return ProjectPaths.reports().appendingPathComponent(name + ".html").path
    }
}
