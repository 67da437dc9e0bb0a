import ArgumentParser
import Foundation
import Reporting
import Results
import Suites

struct BaselineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baseline",
        abstract: "Save, list and show baselines (result documents kept under Baselines/NAME.json).",
        discussion: """
        A baseline is a result document plus a header (name, created, source file); it keeps the host fingerprint \
        and kvmbench version of the run. Names use letters, digits, '.', '_' and '-'; 'reference/NAME' are \
        published figures transcribed from the seed documents (read-only). Baselines live in $KVMBENCH_BASELINES, \
        else in the Baselines/ directory of the kvmbench checkout, else in ./Baselines.
        """,
        subcommands: [BaselineSave.self, BaselineList.self, BaselineShow.self])
}

struct BaselineSave: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "save", abstract: "Save a result document as baseline NAME.",
        discussion: """
        Refuses a run that was interrupted, has failed cases, was measured on a busy host (median host_busy above \
        the suite's max_host_busy) or on an emulated CPU (QEMU TCG), or has gated metrics whose robust spread is above the suite's max_cv, unless \
        --force (the overridden problems are recorded). The header records --reason, the kernel release (and \
        --kernel-commit), the kvmbench that saved it and $USER.

        Exit status: 0 saved, 4 the result file is missing or unreadable, 64 bad name, the baseline exists (use \
        --replace), or the run is not one to trust (use --force).
        """)

    @Argument(help: "Baseline name.")
    var name: String

    @Option(name: .customLong("from"), help: "The result document (JSON) to save.")
    var from: String

    @Flag(name: .customLong("replace"), help: "Overwrite an existing baseline of that name.")
    var replace = false

    @OptionGroup var acceptance: BaselineAcceptanceOptions

    func run() throws {
        let store = BaselineStore()
        SuiteCLI.orExit { () throws(SuiteError) in try store.checkSavable(name, replace: replace) }
        let loaded = SuiteCLI.orExit { () throws(SuiteError) in try DocumentLoader.load(URL(fileURLWithPath: from), label: from, asStored: true) }
        let url = SuiteCLI.orExit { () throws(SuiteError) in
            try store.save(loaded.document, as: name, source: from, replace: replace, acceptance: acceptance.acceptance)
        }
        print("saved baseline \(name): \(url.path) (\(loaded.document.cases.count) cases, host \(loaded.document.host.hostname), kvmbench \(loaded.document.kvmbench.version))")
    }
}

/// What `baseline save` and `suite --save-baseline` record about a new baseline.
struct BaselineAcceptanceOptions: ParsableArguments {
    @Option(name: .customLong("reason"), help: "Why this run becomes the baseline (recorded in its header).")
    var reason: String?

    @Option(name: .customLong("kernel-commit"), help: "The commit the measured kernel was built from (recorded in the header).")
    var kernelCommit: String?

    @Flag(name: .customLong("force"), help: "Save even an interrupted run, one with failed cases, a busy host, noisy gated metrics or an emulated CPU.")
    var force = false

    var acceptance: BaselineAcceptance {
        BaselineAcceptance(reason: reason, kernelCommit: kernelCommit, tool: ToolVersion.current, force: force)
    }
}

struct BaselineList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the baselines, one line each.")

    func run() throws {
        let store = BaselineStore()
        let names = store.names
        guard !names.isEmpty else {
            print("no baselines in \(store.directory.path)")
            return
        }
        let width = names.map(\.count).max() ?? 0
        for name in names {
            let padded = name.padding(toLength: width, withPad: " ", startingAt: 0)
            do throws(SuiteError) {
                let loaded = try store.load(name)
                print("\(padded)  \(BaselineText.oneLine(loaded))")
            } catch {
                print("\(padded)  unreadable: \(error.message)")
            }
        }
    }
}

struct BaselineShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show a baseline: header, host, and every case with its numbers.",
        discussion: "Exit status: 0, or 4 when the baseline is missing or unreadable.")

    @Argument(help: "Baseline name (or a result file path).")
    var name: String

    @Flag(help: "Print the baseline file as JSON.")
    var json = false

    func run() throws {
        let loaded = SuiteCLI.orExit { () throws(SuiteError) in try DocumentArgument.load(name, store: BaselineStore()) }
        if json {
            let header = loaded.baseline ?? BaselineHeader(name: name, created: loaded.document.startedAt, source: loaded.url.path)
            print(String(decoding: try BaselineFile(header: header, document: loaded.document).encoded(), as: UTF8.self))
            return
        }
        print(BaselineText.header(loaded), terminator: "")
        print(renderResultText(loaded.document, colour: SuiteCLI.colour))
    }
}

enum BaselineText {
    static func date(_ date: Date) -> String { date.formatted(.iso8601) }

    static func oneLine(_ loaded: LoadedDocument) -> String {
        let document = loaded.document
        let scenarios = Array(Set(document.cases.map(\.scenario))).sorted().joined(separator: ", ")
        let what = document.suite.map { "suite \($0.name)" } ?? scenarios
        if let reference = loaded.baseline?.reference {
            return "reference (\(reference.side)): \(document.cases.count) cases (\(scenarios)); \(reference.hardware); \(reference.document)"
        }
        let created = loaded.baseline.map { date($0.created) } ?? date(document.startedAt)
        return "\(created)  \(what): \(document.cases.count) cases, host \(document.host.hostname) (\(document.host.kernelRelease), \(document.host.kvmModule)), kvmbench \(document.kvmbench.version)"
    }

    static func header(_ loaded: LoadedDocument) -> String {
        var lines: [String] = []
        if let header = loaded.baseline {
            lines.append("baseline \(header.name): created \(date(header.created)) from \(header.source)")
            if let reason = header.reason { lines.append("  reason: \(reason)") }
            if let release = header.kernelRelease {
                lines.append("  kernel: \(release)" + (header.kernelCommit.map { " (commit \($0))" } ?? ""))
            }
            if let version = header.kvmbenchVersion {
                lines.append("  saved by kvmbench \(version)" + (header.acceptedBy.map { " for \($0)" } ?? ""))
            }
            for problem in header.forced ?? [] { lines.append("  FORCED despite: \(problem)") }
            if let reference = header.reference {
                lines.append("REFERENCE (published figures, other hardware; one value per metric, no significance possible)")
                lines.append("  document: \(reference.document) [\(reference.side)]")
                lines.append("  source:   \(reference.sourceFile)")
                lines.append("  hardware: \(reference.hardware)")
                lines.append("  kernel:   \(reference.kernel)")
                lines.append("  test:     \(reference.parameters)")
                if !reference.match.isEmpty {
                    lines.append("  matched to measured cases by: " + reference.match.sorted { $0.key < $1.key }
                        .map { "\($0.key): scenario + \($0.value.isEmpty ? "nothing else" : $0.value.joined(separator: ", "))" }.joined(separator: "; "))
                }
                for note in reference.notes { lines.append("  note: \(note)") }
            }
        }
        if let suite = loaded.document.suite { lines.append("suite \(suite.name) (definition recorded)") }
        return lines.map { $0 + "\n" }.joined()
    }
}
