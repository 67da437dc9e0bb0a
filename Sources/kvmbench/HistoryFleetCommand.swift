import ArgumentParser
import Foundation
import History
import Reporting
import Results
import Suites

extension HistoryCommand {
    /// `kvmbench history fleet`: the fleet view lives under `history` because it is a query over the
    /// shared history (runs of many hosts and kernels), not over result files as `report` is.
    struct Fleet: ParsableCommand, HistoryPoolHelp {
        static let lastHelp = "Accepted runs of a class's history to pool."

        static let configuration = CommandConfiguration(
            commandName: "fleet",
            abstract: "Per host class: which gated metrics regressed on a candidate kernel against the class's history, and on how many hosts.",
            discussion: """
            A host class is the hosts whose compared fingerprint fields (CPU model, CPUs, memory, NUMA, MMU, KVM \
            module and parameters, THP, command line, microcode, guest or not) match, whatever their hostname and \
            kernel. The class's history is its last --last accepted runs on other kernels, samples pooled per case; \
            each class host's newest run on the candidate kernel is compared against it (thresholds and alpha of \
            --suite, else of the suite the runs recorded, else 5%). --html writes the table and a trend chart per \
            host class.

            A case that failed on a candidate host fails the fleet; so does a case (or gated metric) the class's \
            history measured that a candidate host lacks or could not run (missing, newly unsupported). Unit, \
            polarity and gating come from kvmbench's metric declarations, never from the recorded runs.

            Exit status, as the gate's: 3 a case failed on some candidate host; 2 a gated metric regressed, or a \
            case or gated metric is missing or newly unsupported, on some host of some class; 4 nothing could be \
            compared (no class has both a run on the candidate kernel and accepted runs on other kernels), or a \
            recorded run disagrees with the metric declarations; 0 no failure (undecided metrics do not fail it). \
            64 usage, 1 other error.
            """)
        @Option(name: .customLong("kernel"), help: "The candidate kernel release (default: the kernel of the newest run).")
        var kernel: String?
        @OptionGroup var pool: HistoryPoolOptions<Fleet>
        @Option(name: .customLong("suite"), help: "The suite whose thresholds and alpha decide (default: the suite the runs recorded).")
        var suite: String?
        @Option(name: .customLong("html"), help: ArgumentHelp("Also write the fleet view as a self-contained HTML page.", valueName: "file"))
        var html: String?
        @OptionGroup var history: HistoryOptions
        @Flag(name: .customLong("json"), help: "Print the fleet view as JSON.")
        var json = false

        func run() throws {
            let store = history.open()
            let runs = historyOrFail { try store.runs(host: nil) }
            let definition = suiteDefinition(runs: runs)
            let view = historyOrFail { () throws -> FleetView in
                do {
                    return try FleetView.compute(store: store, kernel: kernel, last: pool.last, declarations: .kvmbench) { scenario in
                        definition?.gate.options(scenario: scenario, ignoreKernel: true) ?? ComparisonOptions(ignoreKernelDifference: true)
                    }
                } catch let refusal as FleetView.Refusal {
                    fail(refusal.description, status: ExitStatus.baselineProblem)
                }
            }
            if let html {
                let page = FleetHTML.render(Self.page(view, location: store.location))
                do { try page.write(toFile: html, atomically: true, encoding: .utf8) } catch {
                    fail("cannot write --html \(html): \(error.localizedDescription)", status: 1)
                }
            }
            if json { historyPrintJSON(view) } else { printTables(view, location: store.location) }
            if let status = Self.exitStatus(view) { throw ExitCode(status) }
        }

        func printTables(_ view: FleetView, location: String) {
            if view.classes.isEmpty {
                return print("no run on kernel \(view.kernel.isEmpty ? "-" : view.kernel) in \(location)")
            }
            print("candidate kernel \(view.kernel): \(view.classes.count) host class\(view.classes.count == 1 ? "" : "es") in \(location)")
            for hostClass in view.classes {
                print("")
                print(Self.heading(hostClass))
                if hostClass.historyRuns.isEmpty {
                    print("  no accepted run of this class on another kernel: nothing to compare against")
                    if hostClass.cases.isEmpty { continue }
                }
                var table = TextTable(columns: [.init("case"), .init("metric"), .init("threshold", .right), .init("regressed", .right),
                                                .init("improved", .right), .init("undecided", .right), .init("change", .right),
                                                .init("regressed on")])
                for row in hostClass.cases {
                    table.append([.init(row.caseKey), .init(row.verdict.label.uppercased(), style: .red), .init("-"),
                                  .init("\(row.hosts.count) of \(hostClass.candidateHosts.count)", style: .red),
                                  .init("-"), .init("-"), .init("-"), .init(row.hosts.joined(separator: ", "))])
                }
                for row in hostClass.metrics {
                    let style: TextStyle? = row.regressed.isEmpty ? nil : .red
                    table.append([.init(row.caseKey), .init(row.metric), .init(UnitFormatting.change(row.threshold).replacingOccurrences(of: "+", with: "")),
                                  .init("\(row.regressed.count) of \(row.hostsCompared)", style: style),
                                  .init("\(row.improved.count)"), .init("\(row.undecided.count)"),
                                  .init(row.medianChange.map(UnitFormatting.change) ?? "-"),
                                  .init(row.regressed.isEmpty ? "-" : row.regressed.joined(separator: ", "))])
                }
                print(table.render(colour: SuiteCLI.colour))
            }
        }

        /// The gate's convention, so that a fleet job can fail: 3 when a case failed on some
        /// candidate host, 2 when a gated metric regressed or a case or gated metric is missing or
        /// newly unsupported on some host of some class, else 4 when nothing could be compared (no
        /// class has both a run on the candidate kernel and a history on other kernels), else nil
        /// (exit 0). Undecided metrics do not fail it: over many hosts some always are.
        static func exitStatus(_ view: FleetView) -> Int32? {
            let metrics = view.classes.flatMap(\.metrics)
            let cases = view.classes.flatMap(\.cases)
            if cases.contains(where: { $0.verdict == .failed }) { return ExitStatus.caseFailed }
            if metrics.contains(where: { !$0.regressed.isEmpty }) || cases.contains(where: \.verdict.failsGate) {
                return ExitStatus.regression
            }
            if !metrics.contains(where: { $0.hostsCompared > 0 }) { return ExitStatus.baselineProblem }
            return nil
        }

        static func heading(_ hostClass: FleetView.FleetClass) -> String {
            let regressed = hostClass.metrics.filter { !$0.regressed.isEmpty }.count
            var text = "class \(hostClass.hostClass) (\(hostClass.summary)): \(hostClass.hosts.count) hosts, "
                + "\(hostClass.candidateHosts.count) on the candidate kernel, history of \(hostClass.historyRuns.count) runs; "
                + "\(regressed) of \(hostClass.metrics.count) gated metrics regressed"
            for verdict in [CaseVerdict.failed, .newlyUnsupported, .missing] {
                let count = hostClass.cases.filter { $0.verdict == verdict }.count
                if count > 0 { text += "; \(count) case\(count == 1 ? "" : "s") \(verdict.label)" }
            }
            return text
        }

        /// The suite named by --suite, else the one the newest run recorded when it is a known suite.
        func suiteDefinition(runs: [RunRecord]) -> SuiteDefinition? {
            let library = SuiteLibrary()
            if let suite {
                return SuiteCLI.orExit { () throws(SuiteError) in try library.load(suite) }
            }
            guard let name = runs.last(where: { $0.suiteName != nil })?.suiteName, library.names.contains(name) else { return nil }
            return try? library.load(name)
        }

        static func page(_ view: FleetView, location: String) -> FleetHTML.Page {
            let sections = view.classes.map { hostClass in
                FleetHTML.Section(
                    title: "Class \(hostClass.hostClass): \(hostClass.summary)",
                    subtitle: heading(hostClass),
                    header: ["case", "metric", "threshold", "regressed", "improved", "undecided", "change", "regressed on"],
                    rows: hostClass.cases.map { row in
                        FleetHTML.Row(cells: [row.caseKey, row.verdict.label.uppercased(), "-",
                                              "\(row.hosts.count) of \(hostClass.candidateHosts.count)", "-", "-", "-",
                                              zip(row.hosts, row.reasons).map { "\($0): \($1)" }.joined(separator: "; ")],
                                      regressed: true)
                    } + hostClass.metrics.map { row in
                        FleetHTML.Row(cells: [row.caseKey, row.metric,
                                              UnitFormatting.change(row.threshold).replacingOccurrences(of: "+", with: ""),
                                              "\(row.regressed.count) of \(row.hostsCompared)", "\(row.improved.count)",
                                              "\(row.undecided.count)", row.medianChange.map(UnitFormatting.change) ?? "-",
                                              row.regressed.isEmpty ? "-" : row.regressed.joined(separator: ", ")],
                                      regressed: !row.regressed.isEmpty)
                    },
                    trends: hostClass.trends.map { trend in
                        FleetHTML.Trend(caseKey: trend.caseKey, metric: trend.metric, unit: trend.unit, better: trend.better,
                                        candidateKernel: view.kernel,
                                        series: trend.series.map { series in
                                            FleetHTML.Trend.Series(label: series.host, points: series.points.map { point in
                                                FleetHTML.Trend.Point(x: Double(point.position), median: point.median, low: point.low,
                                                                      high: point.high, kernel: point.kernel,
                                                                      label: "run \(point.runID), \(point.startedAt)")
                                            })
                                        })
                    })
            }
            return FleetHTML.Page(title: "kvmbench fleet: kernel \(view.kernel)",
                                  subtitle: "\(view.classes.count) host classes, from \(location)", sections: sections)
        }
    }

    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "migrate",
            abstract: "Copy every run of the history (--history, the SQLite default) into another, e.g. a shared PostgreSQL server.",
            discussion: """
            The destination's schema is created or brought up to date first (PostgreSQL records the versions in \
            kvmbench_schema). Runs already there (same start time and host key) are kept once, so an interrupted \
            migration can be run again.
            """)
        @Option(name: .customLong("to"), help: ArgumentHelp("The destination: postgres://user[:password]@host[:port]/database, or a SQLite file.", valueName: "url"))
        var destination: String
        @OptionGroup var history: HistoryOptions
        @Flag(name: .customLong("json"), help: "Print the counts as JSON.")
        var json = false

        func validate() throws {
            if HistoryDatabase.defaultPath(option: history.path) == destination {
                throw ValidationError("--to \(HistoryStores.redacted(destination)) is the history being migrated")
            }
        }

        func run() throws {
            let source = history.open()
            let target = HistoryOptions.open(destination)
            let counts = historyOrFail { try HistoryStores.migrate(from: source, to: target) }
            if json { return historyPrintJSON(["copied": counts.copied, "already_present": counts.present]) }
            print("\(counts.copied) runs copied from \(source.location) to \(target.location), \(counts.present) already there")
        }
    }
}
