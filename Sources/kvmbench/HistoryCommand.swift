import ArgumentParser
import Foundation
import History
import Pipeline
import Reporting
import Results
import Suites

/// Where the history database is, and whether a run is recorded in it.
struct HistoryOptions: ParsableArguments {
    @Option(name: .customLong("history"), help: ArgumentHelp("The history database: a SQLite file, or a shared PostgreSQL server as postgres://user[:password]@host[:port]/database (default $KVMBENCH_HISTORY, else $XDG_DATA_HOME/kvmbench/history.sqlite, else ~/.local/share/kvmbench/history.sqlite).", valueName: "path|url"))
    var path: String?

    var resolvedPath: String { HistoryDatabase.defaultPath(option: path) }

    func open() -> any HistoryStore { Self.open(resolvedPath) }

    static func open(_ location: String) -> any HistoryStore {
        do { return try HistoryStores.open(location) } catch {
            fail("cannot open the history database \(HistoryStores.redacted(location)): \(error)", status: 1)
        }
    }
}

/// `--last N`, for the commands that pool the last N accepted runs of the history as the before
/// side (`gate --against history`, `history fleet`); `Help` words the option for its command.
struct HistoryPoolOptions<Help: HistoryPoolHelp>: ParsableArguments {
    @Option(name: .customLong("last"), help: ArgumentHelp(Help.lastHelp))
    var last = 10

    func validate() throws {
        if last < 1 { throw ValidationError("--last must be at least 1 run, not \(last)") }
    }
}

/// How a command that pools the history says what `--last` counts.
protocol HistoryPoolHelp {
    static var lastHelp: String { get }
}

/// `--history PATH` and `--no-history` for the commands that record their run.
struct HistoryRecordingOptions: ParsableArguments {
    @OptionGroup var location: HistoryOptions

    @Flag(name: .customLong("no-history"), help: "Do not record this run in the history database.")
    var noHistory = false

    /// Records `document`, accepted into the gate's pool or not as `acceptance` says (by default
    /// unjudged); a database that cannot be written costs one warning line, never the run.
    func record(_ document: ResultDocument, source: String?, acceptance: RunAcceptance = .unjudged) {
        guard !noHistory else { return }
        let path = location.resolvedPath
        do {
            try HistoryStores.open(path).record(document, sourcePath: source, acceptance: acceptance)
        } catch {
            SuiteCLI.note("warning: this run was not recorded in the history database \(HistoryStores.redacted(path)): \(error)")
        }
    }
}

struct HistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "The history of runs: import result documents, list runs, show a metric's series, find change points.",
        discussion: """
        `kvmbench suite` and `kvmbench gate` record every run here (unless --no-history). Runs are grouped by host \
        key: the hostname and a hash of the host fields the gate compares, apart from the kernel release (a new \
        kernel stays in the series and shows as a change point). A run joins the pool later history gates judge \
        against (it is accepted) only through a gate that passed, or a gate still collecting history, or by hand \
        (`history accept RUN --reason ...`); runs of `suite` and `history import` are recorded unjudged. \
        `history list` says why each run is or is not accepted. A fleet shares one history on PostgreSQL: \
        --history postgres://... (or $KVMBENCH_HISTORY); `history migrate --to URL` copies a SQLite history there, \
        and `history fleet` shows, per host class, which gated metrics regressed on a candidate kernel.
        """,
        subcommands: [Import.self, List.self, Accept.self, Show.self, Changes.self, Fleet.self, Migrate.self])

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "Record result documents in the history, unjudged, in the order of their start times (a document already there is skipped).")

        @Argument(help: "Result documents (kvmbench run/suite JSON).")
        var files: [String]

        @OptionGroup var history: HistoryOptions
        @Option(name: .customLong("accept"), help: ArgumentHelp("Accept the imported runs into the pool history gates judge against, for this reason (default: unjudged).", valueName: "reason"))
        var accept: String?
        @Flag(name: .customLong("json"), help: "Print what was imported as JSON.")
        var json = false

        func validate() throws {
            if let accept, accept.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--accept must say why, not be empty") }
        }

        func run() throws {
            let acceptance = accept.map { RunAcceptance(accepted: true, reason: RecordedRun.acceptedByHand($0)) } ?? .unjudged
            let loaded = files.map { path in
                SuiteCLI.orExit { () throws(SuiteError) in try DocumentLoader.load(URL(fileURLWithPath: path), label: path) }
            }.sorted { $0.document.startedAt < $1.document.startedAt }
            let database = history.open()
            var rows: [ImportRow] = []
            for document in loaded {
                let outcome: HistoryRecordOutcome
                do { outcome = try database.record(document.document, sourcePath: document.url.path, acceptance: acceptance) } catch {
                    fail("cannot record \(document.label) in \(database.location): \(error)", status: 1)
                }
                switch outcome {
                case .recorded(let id): rows.append(ImportRow(file: document.label, runID: id, imported: true))
                case .alreadyPresent(let id): rows.append(ImportRow(file: document.label, runID: id, imported: false))
                }
            }
            if json { return historyPrintJSON(rows) }
            var table = TextTable(columns: [.init("file"), .init("run", .right), .init("")])
            for row in rows { table.append([.init(row.file), .init(String(row.runID)), .init(row.imported ? "imported" : "already recorded")]) }
            print(table.render(colour: SuiteCLI.colour))
            print("\(rows.filter(\.imported).count) of \(rows.count) imported into \(database.location)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "The recorded runs, per host, oldest first.")
        @Option(name: .customLong("host"), help: "Only this host (a host key or a hostname); every host when not given.")
        var host: String?
        @OptionGroup var history: HistoryOptions
        @Flag(name: .customLong("json"), help: "Print the runs as JSON (each with its host fingerprint).")
        var json = false

        func run() throws {
            let runs = historyOrFail { try history.open().runs(host: host) }
            if json { return historyPrintJSON(runs) }
            if runs.isEmpty { return print("no runs recorded in \(HistoryStores.redacted(history.resolvedPath))\(host.map { " for host \($0)" } ?? "")") }
            for host in Set(runs.map(\.hostKey)).sorted() {
                print("host \(host) (class \(HostKey.hostClass(ofKey: host)))")
                var table = TextTable(columns: [.init("run", .right), .init("started"), .init("duration", .right), .init("suite"),
                                                .init("kernel"), .init("kvmbench"), .init("cases", .right), .init("accepted"),
                                                .init("why")])
                for run in runs where run.hostKey == host {
                    table.append([.init(String(run.id)), .init(run.startedAt), .init(duration(run)), .init(run.suiteName ?? "-"),
                                  .init(run.kernelRelease), .init(run.kvmbenchVersion), .init(String(run.caseCount)),
                                  .init(run.accepted ? "yes" : "no", style: run.accepted ? .green : nil),
                                  .init(run.acceptance ?? "recorded before kvmbench said why")])
                }
                print(table.render(colour: SuiteCLI.colour))
            }
        }

        func duration(_ run: RunRecord) -> String {
            let format = ISO8601DateFormatter()
            format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            guard let end = run.finishedAt.flatMap(format.date(from:)), let start = format.date(from: run.startedAt) else { return "-" }
            return UnitFormatting.duration(end.timeIntervalSince(start))
        }
    }

    struct Accept: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "accept",
            abstract: "Accept recorded runs into the pool that history gates judge against, by hand, with the reason.",
            discussion: """
            For a run no gate passed that you know to be good: a night judged before its host had enough \
            history, a run recorded by `suite` or `history import`, or a change in the numbers that is understood \
            (a new kernel whose new level is intended). The reason is kept with the run and shown by `history list`.
            """)
        @Argument(help: "Run ids, as `kvmbench history list` shows them.")
        var runs: [Int64]
        @Option(name: .customLong("reason"), help: "Why these runs are accepted (kept with each run).")
        var reason: String
        @OptionGroup var history: HistoryOptions

        func validate() throws {
            if runs.isEmpty { throw ValidationError("give at least one run id (kvmbench history list shows them)") }
            if reason.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--reason must say why, not be empty") }
        }

        func run() throws {
            let database = history.open()
            for id in runs {
                let found = historyOrFail { try database.accept(runID: id, reason: reason) }
                if !found { fail("no run \(id) in \(database.location) (kvmbench history list shows the runs)", status: ExitStatus.usage) }
                print("run \(id) accepted: \(reason)")
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "One metric's series: per host and case, every run's median and its interval.")
        @Argument(help: "The metric name (for example first_touch_time).")
        var metric: String
        @Option(name: .customLong("case"), help: "Only this case key (as `history changes` prints it).")
        var caseKey: String?
        @Option(name: .customLong("scenario"), help: "Only cases of this scenario.")
        var scenario: String?
        @Option(name: .customLong("host"), help: "Only this host (a host key or a hostname).")
        var host: String?
        @OptionGroup var history: HistoryOptions
        @Flag(name: .customLong("json"), help: "Print the series as JSON.")
        var json = false
        @Option(name: .customLong("html"), help: ArgumentHelp("Also write the series as a self-contained HTML page of trend charts, change points marked.", valueName: "file"))
        var html: String?

        func validate() throws {
            if caseKey != nil && scenario != nil { throw ValidationError("give at most one of --case and --scenario") }
        }

        func run() throws {
            let points = historyOrFail { try history.open().series(metric: metric, caseKey: caseKey, scenario: scenario, host: host) }
            if let html, !points.isEmpty { writeTrends(points, to: html) }
            if json { return historyPrintJSON(points) }
            if points.isEmpty { fail("no recorded values of \(metric) match (see kvmbench history list)", status: 1) }
            var groups: [String] = []
            for point in points where !groups.contains(point.hostKey + "\u{0}" + point.caseKey) { groups.append(point.hostKey + "\u{0}" + point.caseKey) }
            for group in groups {
                let series = points.filter { $0.hostKey + "\u{0}" + $0.caseKey == group }
                print("\(series[0].caseKey) on \(series[0].hostKey): \(metric) (\(series[0].better) is better)")
                var table = TextTable(columns: [.init("run", .right), .init("started"), .init("kernel"), .init("median", .right),
                                                .init("interval", .right), .init("samples", .right)])
                for point in series {
                    let interval = point.low.flatMap { low in point.high.map { high in
                        UnitFormatting.format(low, unit: point.unit) + " – " + UnitFormatting.format(high, unit: point.unit) } } ?? "-"
                    table.append([.init(String(point.runID)), .init(point.startedAt), .init(point.kernelRelease),
                                  .init(point.median.map { UnitFormatting.format($0, unit: point.unit) } ?? "n/a"),
                                  .init(interval), .init(String(point.samples.count))])
                }
                print(table.render(colour: SuiteCLI.colour))
            }
        }

        /// One trend chart per host and case, with the change points of its medians.
        func writeTrends(_ points: [SeriesPoint], to path: String) {
            var keys: [String] = []
            for point in points where !keys.contains(point.hostKey + "\u{0}" + point.caseKey) { keys.append(point.hostKey + "\u{0}" + point.caseKey) }
            let series = keys.map { key in
                let runs = points.filter { $0.hostKey + "\u{0}" + $0.caseKey == key && $0.median != nil }
                let first = points.first { $0.hostKey + "\u{0}" + $0.caseKey == key }!
                return TrendSeries(host: first.hostKey, caseKey: first.caseKey, metric: metric, unit: first.unit,
                                   better: first.better, gate: first.gate, points: runs.map { run in
                    TrendSeries.Point(runID: run.runID, startedAt: run.startedAt, kernelRelease: run.kernelRelease,
                                      median: run.median ?? .nan, low: run.low, high: run.high, accepted: run.accepted)
                })
            }
            do {
                try AtomicFile.write(Data(TrendReport.render(series, title: "kvmbench history: \(metric)").utf8),
                                     to: URL(fileURLWithPath: path))
            } catch {
                fail(ErrorText.failed("write", path: path, error), status: 1)
            }
        }
    }

    struct Changes: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "changes",
            abstract: "Change points of every gated metric's median series, per host and case.",
            discussion: """
            E-divisive means as Apache Otava does it: windows of --window runs, a two-sided t-test between the \
            segments either side of each candidate, weak points found at 10x --max-p and merged away unless \
            p <= --max-p. The run printed is the first of the new level; magnitude is Otava's (the larger \
            relative change, forwards or backwards); change is after/before - 1 of the segment means.
            """)
        @Option(name: .customLong("window"), help: "Window length in runs (Otava's default).")
        var window = ChangePointDetection.defaultWindowLength
        @Option(name: .customLong("max-p"), help: "Significance level (Otava's default).")
        var maxP = ChangePointDetection.defaultMaxPValue
        @Option(name: .customLong("host"), help: "Only this host (a host key or a hostname); every host when not given.")
        var host: String?
        @OptionGroup var history: HistoryOptions
        @Flag(name: .customLong("json"), help: "Print the change points as JSON.")
        var json = false

        func validate() throws {
            if window < 2 { throw ValidationError("--window must be at least 2 runs, not \(window)") }
            if !(maxP > 0 && maxP < 1) { throw ValidationError("--max-p must lie in (0, 1), not \(maxP)") }
        }

        func run() throws {
            let changes = historyOrFail { try history.open().changes(windowLength: window, maxPValue: maxP, host: host) }
            if json { return historyPrintJSON(changes) }
            if changes.isEmpty { return print("no change points in the gated metrics recorded in \(HistoryStores.redacted(history.resolvedPath))") }
            var table = TextTable(columns: [.init("host"), .init("case"), .init("metric"), .init("from run", .right), .init("started"),
                                            .init("kernel"), .init("before", .right), .init("after", .right), .init("change", .right),
                                            .init("magnitude", .right), .init("p", .right)])
            for change in changes {
                let point = change.changePoint
                let worse = change.better == .lower ? point.forwardChange > 0 : point.forwardChange < 0
                table.append([.init(change.host), .init(change.caseKey), .init(change.metric), .init(String(change.runID)),
                              .init(change.startedAt), .init(change.kernelRelease),
                              .init(UnitFormatting.format(point.meanBefore, unit: change.unit)),
                              .init(UnitFormatting.format(point.meanAfter, unit: change.unit)),
                              .init(UnitFormatting.change(point.forwardChange), style: worse ? .red : .green),
                              .init(UnitFormatting.change(point.magnitude).replacingOccurrences(of: "+", with: "")),
                              .init(UnitFormatting.pValue(point.pValue))])
            }
            print(table.render(colour: SuiteCLI.colour))
        }
    }
}

private struct ImportRow: Codable {
    var file: String
    var runID: Int64
    var imported: Bool
    enum CodingKeys: String, CodingKey { case file, runID = "run_id", imported }
}

func historyPrintJSON<T: Encodable>(_ value: T) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    do { print(String(decoding: try encoder.encode(value), as: UTF8.self)) } catch { fail("cannot encode JSON: \(error)", status: 1) }
}

func historyOrFail<T>(_ body: () throws -> T) -> T {
    do { return try body() } catch { fail("history database: \(error)", status: 1) }
}

extension HistoryRecordingOptions {
    /// The before side of a history gate: the medians of this host's last `last` accepted runs of
    /// the same suite (none at all on a new host: every metric is then collecting).
    func runSeries(for result: ResultDocument, last: Int) -> LoadedDocument {
        let database = location.open()
        let series: HistoryRunSeries
        // Runs recorded by older kvmbench versions keep the case keys they were recorded under:
        // brought up to the current declarations, they are the same cases as tonight's.
        do { series = try database.runSeries(for: result, last: last, upgrade: CurrentDeclarations.upgrade) } catch {
            fail("history database \(database.location): \(error)", status: 1)
        }
        let runs = series.runIDs.isEmpty ? "no earlier accepted runs" : "runs \(series.runIDs.map(String.init).joined(separator: ","))"
        let label = "history of this host (\(runs))"
        let url = HistoryStores.isServerURL(database.location) ? URL(string: database.location) : nil
        return LoadedDocument(document: series.document, baseline: nil, label: label,
                              url: url ?? URL(fileURLWithPath: database.location))
    }
}
