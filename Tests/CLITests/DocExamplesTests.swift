import Foundation
import Testing

/// Every `kvmbench …` command line in a fenced code block of README.md and docs/*.md, checked
/// against the built kvmbench without creating a guest or changing the host (issue 25, item 5).
///
/// How an example is checked depends on its command (`DocExamples.check(of:)`):
/// - **run for real**: commands that create no guest and change nothing (`list`, `host`, any
///   `--help`, `compare`, `report`, `history`, `baseline`) run as written, in a sandbox: the
///   history, baselines, reports and host-change ledger live in a temporary folder and output
///   files (`--html F`, `-o F`, …) are written there. Exit 0 expected.
/// - **dry run**: commands that would run guests and take `--dry-run` (`suite`, `run`, `gate`, `ab`, `sensitivity`) run with it, so
///   every case is validated against this host's limits and listed, and nothing runs. Exit 0.
/// - **parse only**: commands that would run guests and have no `--dry-run` (`selftest`) run with `KVMBENCH_DEVICE` naming a device that does not exist.
///   Each reads its whole command line first (an unknown command, scenario, flag or suite exits 64)
///   and stops at opening the device with exit 69, before any guest, host setting or history write.
///   Values are not checked against the host there: that needs the device.
/// - **exceptions**: listed below with the reason each (`exceptions`).
/// Examples that name the reader's own files or runs are checked with the committed samples in
/// their place (`substitutions`, with the reason each). A stale exception or substitution (one that
/// matches no example) fails, and so does an example with a placeholder (`RESULT.json`, `…`,
/// `[--flag X]`) that neither covers.
enum DocExamples {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    // MARK: - How each command is checked

    /// Commands that create no guest and change nothing outside the sandbox: run as written.
    static let runForReal: Set<String> = ["list", "host", "compare", "report", "history", "baseline"]

    /// Commands that would run guests and take `--dry-run`: run with it appended.
    static let dryRun: Set<String> = ["suite", "run", "gate", "ab", "sensitivity"]

    /// Commands that would run guests and take no `--dry-run`: checked for parsing only (see above).
    static let parseOnly: [String: String] = [
        "selftest": "kvmbench selftest has no --dry-run: it runs a KVM selftest binary",
    ]

    /// Examples not run at all: a fragment of the example's text, and why.
    static let exceptions: [(fragment: String, reason: String)] = [
        ("kvmbench ab run SCENARIO [its flags] SIDES",
         "a usage synopsis, not an example; the concrete kvmbench ab examples beside it and in README.md are checked"),
        ("kvmbench history migrate --to postgres://kvmbench@db.lab/kvmbench",
         "needs the PostgreSQL server it names; PostgresHistoryTests run history migrate against a server they start"),
    ]

    /// Parts of examples that name the reader's own files or runs, what the test puts in their
    /// place, and why.
    static let substitutions: [(fragment: String, replacement: String, reason: String)] = [
        ("Reports/memslots-….json", "Reports/sample/nightly.json",
         "the reader's memslots result; the committed nightly sample has memslots cases"),
        ("Reports/nightly-….json", "Reports/sample/nightly-2026-12-01.json",
         "the reader's nightly result; the committed sample of a later night stands in"),
        ("Reports/*.json", "Reports/sample/nightly.json Reports/sample/nightly-2026-12-01.json",
         "the reader's results (Reports/ is ignored by git); the two committed nightly samples stand in"),
        ("history accept 12 13", "history accept 1 2",
         "run numbers of the reader's history; the sandbox history holds runs 1 and 2"),
        (" [--case KEY] [--host H]", "",
         "optional parts naming the reader's case and host; the rest of the synopsis is checked"),
        ("[--window 50] [--max-p 0.001] [--host H]", "--window 50 --max-p 0.001",
         "the optional parts with their values; --host H names the reader's host"),
        ("[--kernel RELEASE] [--last 10] [--suite nightly] [--html fleet.html] [--json]", "--last 10 --suite nightly --html fleet.html --json",
         "the optional parts with their values; --kernel RELEASE names the reader's candidate kernel"),
    ]

    /// Options whose value is a file a command writes: redirected into the sandbox.
    static let outputOptions: Set<String> = ["--html", "--markdown", "--junit", "--kcidb", "--bmf", "--csv", "-o", "--output"]

    enum Check: Equatable {
        case real
        case dryRun
        /// With the reason the command is not run.
        case parseOnly(String)
    }

    /// How `words` (the arguments after `kvmbench`) are checked; nil for a command no rule covers.
    static func check(of words: [String]) -> Check? {
        let options = words.prefix { $0 != "--" }
        if options.contains("--help") || options.contains("-h") || options.contains("--version") { return .real }
        guard let command = words.first else { return .real }
        if command == "gate", options.contains("--result") { return .real }
        if runForReal.contains(command) { return .real }
        if dryRun.contains(command) { return .dryRun }
        return parseOnly[command].map(Check.parseOnly)
    }

    // MARK: - Finding the examples

    /// One `kvmbench …` command line from a fenced code block.
    struct Example: Sendable, CustomTestStringConvertible {
        var file: String
        var line: Int
        /// As written: the prompt (`$ `) left out, continuation lines joined.
        var text: String
        /// The error line the document shows right under the command (`kvmbench: ...`), when the
        /// example demonstrates bad input: then it must exit 64 with that line.
        var shownError: String? = nil
        var testDescription: String { "\(file):\(line): \(text)" }
    }

    /// README.md and docs/*.md, relative to the repository.
    static var documents: [String] {
        let docs = (try? FileManager.default.contentsOfDirectory(atPath: repository.appendingPathComponent("docs").path)) ?? []
        return ["README.md"] + docs.filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
    }

    static func text(of document: String) -> String {
        (try? String(contentsOf: repository.appendingPathComponent(document), encoding: .utf8)) ?? ""
    }

    static var all: [Example] { documents.flatMap { extract(text(of: $0), file: $0) } }

    /// The lines of fenced code blocks whose first word (after a `$ ` prompt) is `kvmbench` or a
    /// path to it (`scripts/kvmbench`, `.build/release/kvmbench`); a line ending in `\` goes on.
    static func extract(_ markdown: String, file: String) -> [Example] {
        var examples: [Example] = []
        var inFence = false
        var pending: Example?
        for (index, raw) in markdown.components(separatedBy: "\n").enumerated() {
            var line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("```") {
                inFence.toggle()
                pending = nil
                continue
            }
            guard inFence else { continue }
            let continues = line.hasSuffix("\\")
            if continues { line = String(line.dropLast()).trimmingCharacters(in: .whitespaces) }
            if var example = pending {
                example.text += " " + line
                if continues { pending = example } else { examples.append(example); pending = nil }
                continue
            }
            // An error line right under a one-line command (its line number is this line's index).
            if line.hasPrefix("kvmbench: "), let last = examples.indices.last, examples[last].line == index {
                examples[last].shownError = String(line.dropFirst("kvmbench: ".count))
                continue
            }
            if line.hasPrefix("$ ") { line = String(line.dropFirst(2)) }
            guard let first = line.split(separator: " ").first, isKVMBench(first) else { continue }
            let example = Example(file: file, line: index + 1, text: line)
            if continues { pending = example } else { examples.append(example) }
        }
        return examples
    }

    static func isKVMBench(_ word: some StringProtocol) -> Bool { word == "kvmbench" || word.hasSuffix("/kvmbench") }

    /// The words a POSIX shell would pass: quotes and backslashes resolved, a leading `~/`
    /// expanded, nothing from a comment (`#` opening a word) or a redirection, pipe or list
    /// (`>`, `<`, `|`, `;`, `&`) on.
    static func words(_ text: String, home: String) -> [String] {
        let characters = Array(text)
        var words: [String] = []
        var word = ""
        var inWord = false
        var quote: Character?
        var index = 0
        scanning: while index < characters.count {
            let c = characters[index]
            if let open = quote {
                if c == open {
                    quote = nil
                } else if open == "\"", c == "\\", index + 1 < characters.count, "\"\\$`".contains(characters[index + 1]) {
                    index += 1
                    word.append(characters[index])
                } else {
                    word.append(c)
                }
            } else if c == "'" || c == "\"" {
                quote = c
                inWord = true
            } else if c == "\\", index + 1 < characters.count {
                index += 1
                word.append(characters[index])
                inWord = true
            } else if c == " " || c == "\t" {
                if inWord { words.append(word) }
                word = ""
                inWord = false
            } else if (!inWord && c == "#") || ">|<;&".contains(c) {
                break scanning
            } else if !inWord, c == "~", index + 1 == characters.count || characters[index + 1] == "/" {
                word += home
                inWord = true
            } else {
                word.append(c)
                inWord = true
            }
            index += 1
        }
        if inWord { words.append(word) }
        return words
    }

    /// Words that stand for something the reader fills in: `…`, `[optional]` parts, and
    /// upper-case names such as `RESULT.json`, `NAME` or `PATH=VALUE`.
    static func placeholders(in words: [String]) -> [String] {
        words.filter { word in
            word.contains("…") || word.contains("[") || word.contains("]")
                || word.split(whereSeparator: { "=/,.:".contains($0) }).contains { part in
                    part.first?.isUppercase == true && part.allSatisfy { $0.isUppercase || $0 == "_" }
                }
        }
    }

    // MARK: - Checking one example

    enum Verdict: Equatable {
        case passed
        case failed(String)
        case skipped(String)
    }

    static func verdict(of example: Example) throws -> Verdict {
        if let exception = exceptions.first(where: { example.text.contains($0.fragment) }) {
            return .skipped(exception.reason)
        }
        var text = example.text
        for substitution in substitutions where text.contains(substitution.fragment) {
            text = text.replacingOccurrences(of: substitution.fragment, with: substitution.replacement)
        }
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
        let tokens = words(text, home: home)
        guard let program = tokens.first, isKVMBench(program) else { return .failed("not a kvmbench command: \(text)") }
        var arguments = Array(tokens.dropFirst())
        let unfilled = placeholders(in: arguments)
        if !unfilled.isEmpty {
            return .failed("placeholder \(unfilled.joined(separator: " ")): make the example concrete, or add a substitution or an exception with the reason")
        }
        guard var check = check(of: arguments) else {
            return .failed("no rule for kvmbench \(arguments.first ?? ""): add it to runForReal, dryRun or parseOnly in DocExamplesTests.swift")
        }
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        // Without a usable /dev/kvm, a command that needs it (host, a dry run's host limits) is
        // checked as far as it gets without one.
        if !CLI.kvmUsable, (check == .real && arguments.first == "host") || check == .dryRun {
            check = .parseOnly("/dev/kvm is not usable here")
        }
        if let shown = example.shownError {
            // Bad input shown with its error: exit 64 with that line, before any guest (a dry run where there is one).
            if check == .dryRun, !arguments.contains("--dry-run") { arguments.append("--dry-run") }
            let outcome = try sandbox.run(arguments, device: check == .dryRun ? nil : sandbox.missingDevice)
            let expected = shown.components(separatedBy: "…").first ?? shown
            guard outcome.status == 64, outcome.stderr.contains(expected.trimmingCharacters(in: .whitespaces)) else {
                return .failed("the document shows `kvmbench: \(shown)`; got exit \(outcome.status): \(outcome.stderr)")
            }
            return .passed
        }
        switch check {
        case .real:
            var written: [URL] = []
            for index in arguments.indices.dropLast() where outputOptions.contains(arguments[index]) {
                let file = sandbox.output.appendingPathComponent(URL(fileURLWithPath: arguments[index + 1]).lastPathComponent)
                arguments[index + 1] = file.path
                written.append(file)
            }
            if arguments.first == "history" || arguments.first == "gate" { try sandbox.fillHistory() }
            let outcome = try sandbox.run(arguments)
            guard outcome.status == 0 else {
                return .failed("exit \(outcome.status) running \(arguments.joined(separator: " ")): \(outcome.stderr)\(outcome.stdout)")
            }
            if let missing = written.first(where: { !FileManager.default.fileExists(atPath: $0.path) }) {
                return .failed("exit 0, but \(missing.lastPathComponent) was not written")
            }
            if outcome.stdout.isEmpty && written.isEmpty { return .failed("exit 0 and printed nothing") }
            return .passed
        case .dryRun:
            if !arguments.contains("--dry-run") { arguments.append("--dry-run") }
            let outcome = try sandbox.run(arguments)
            guard outcome.status == 0, outcome.stdout.contains("case(s)") else {
                return .failed("exit \(outcome.status) running \(arguments.joined(separator: " ")): \(outcome.stderr)\(outcome.stdout)")
            }
            return .passed
        case .parseOnly:
            let outcome = try sandbox.run(arguments, device: sandbox.missingDevice)
            if outcome.status == 69, outcome.stderr.contains(sandbox.missingDevice.path) { return .passed }
            if outcome.status == 4, geteuid() != 0, outcome.stderr.contains("root") {
                return .skipped("checking this example's side or control needs root: \(outcome.stderr)")
            }
            return .failed("exit \(outcome.status) (69 expected: the command line read in full, then no device) running \(arguments.joined(separator: " ")): \(outcome.stderr)")
        }
    }

    // MARK: - The sandbox

    /// A temporary folder for one example's history, baselines, reports, ledger and output files.
    final class Sandbox {
        let root: URL
        var output: URL { root.appendingPathComponent("out") }
        var missingDevice: URL { root.appendingPathComponent("no-such-kvm-device") }

        init() throws {
            let manager = FileManager.default
            root = manager.temporaryDirectory.appendingPathComponent("kvmbench-doc-examples-\(UUID().uuidString)")
            for folder in ["Baselines", "Reports", "out", "seed"] {
                try manager.createDirectory(at: root.appendingPathComponent(folder), withIntermediateDirectories: true)
            }
            // The published reference baselines as committed, and `nightly`, the baseline the
            // examples gate and report against: the first nightly baseline as committed.
            try manager.createSymbolicLink(at: root.appendingPathComponent("Baselines/reference"),
                                           withDestinationURL: repository.appendingPathComponent("Baselines/reference"))
            try manager.copyItem(at: repository.appendingPathComponent("Tests/Fixtures/old-documents/nightly-baseline-2026-11-24.json"),
                                 to: root.appendingPathComponent("Baselines/nightly.json"))
        }

        func remove() { try? FileManager.default.removeItem(at: root) }

        /// Run 1: the committed nightly, accepted; run 2: the same night a day later on another
        /// kernel release of the same host, unjudged: a host class with a history and a candidate
        /// kernel, so `history fleet` has something to compare.
        func fillHistory() throws {
            let nightly = repository.appendingPathComponent("Reports/sample/nightly.json")
            var later = try DoctoredNightly.night(1, of: Data(contentsOf: nightly))
            var host = try #require(later["host"] as? [String: Any])
            host["kernel_release"] = "\(host["kernel_release"] ?? "")-candidate"
            later["host"] = host
            let candidate = root.appendingPathComponent("seed/nightly-candidate.json")
            try JSONSerialization.data(withJSONObject: later).write(to: candidate)
            for arguments in [["history", "import", "--accept", "the sandbox's history", nightly.path], ["history", "import", candidate.path]] {
                let outcome = try run(arguments)
                if outcome.status != 0 { throw SandboxError("cannot fill the sandbox history: \(outcome.stderr)") }
            }
        }

        var environment: [String: String] {
            var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("KVMBENCH_") || $0.key == "KVMBENCH_DEVICE" }
            environment["KVMBENCH_HISTORY"] = root.appendingPathComponent("history.sqlite").path
            environment["KVMBENCH_BASELINES"] = root.appendingPathComponent("Baselines").path
            environment["KVMBENCH_REPORTS"] = root.appendingPathComponent("Reports").path
            environment["KVMBENCH_LEDGER"] = root.appendingPathComponent("ledger.json").path
            environment["XDG_DATA_HOME"] = root.path
            environment["NO_COLOR"] = "1"
            return environment
        }

        /// Runs the built kvmbench with `arguments` in the repository (the examples' paths are
        /// relative to it), its output in files (no pipe to fill), for at most two minutes.
        func run(_ arguments: [String], device: URL? = nil) throws -> CLI.Outcome {
            let process = Process()
            process.executableURL = CLI.executable
            process.arguments = arguments
            process.currentDirectoryURL = repository
            var environment = environment
            if let device { environment["KVMBENCH_DEVICE"] = device.path }
            process.environment = environment
            let stdout = root.appendingPathComponent("stdout"), stderr = root.appendingPathComponent("stderr")
            _ = FileManager.default.createFile(atPath: stdout.path, contents: nil)
            _ = FileManager.default.createFile(atPath: stderr.path, contents: nil)
            let out = try FileHandle(forWritingTo: stdout), err = try FileHandle(forWritingTo: stderr)
            defer { try? out.close(); try? err.close() }
            process.standardOutput = out
            process.standardError = err
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let deadline = Date().addingTimeInterval(120)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning {
                process.terminate()
                process.waitUntilExit()
                throw SandboxError("kvmbench \(arguments.joined(separator: " ")) did not finish in 2 minutes")
            }
            process.waitUntilExit()
            return CLI.Outcome(status: process.terminationStatus,
                               stdout: (try? String(contentsOf: stdout, encoding: .utf8)) ?? "",
                               stderr: (try? String(contentsOf: stderr, encoding: .utf8)) ?? "")
        }
    }

    struct SandboxError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    // MARK: - Links

    /// GitHub's anchor for a heading: lower case, spaces to hyphens, punctuation dropped.
    static func anchor(_ heading: String) -> String {
        String(heading.lowercased().compactMap { c -> Character? in
            if c == " " { return "-" }
            return c.isLetter || c.isNumber || c == "-" || c == "_" ? c : nil
        })
    }

    /// The anchors of a Markdown document's headings (outside code blocks), duplicates numbered as GitHub does.
    static func anchors(of markdown: String) -> Set<String> {
        var seen: [String: Int] = [:]
        var result: Set<String> = []
        var inFence = false
        for line in markdown.components(separatedBy: "\n") {
            if line.hasPrefix("```") { inFence.toggle() }
            guard !inFence, line.hasPrefix("#") else { continue }
            let base = anchor(String(line.drop { $0 == "#" }).trimmingCharacters(in: .whitespaces))
            let count = seen[base, default: 0]
            seen[base] = count + 1
            result.insert(count == 0 ? base : "\(base)-\(count)")
        }
        return result
    }

    /// The targets of the Markdown links `[text](target)` outside code blocks.
    static func links(in markdown: String) -> [String] {
        var targets: [String] = []
        var inFence = false
        for line in markdown.components(separatedBy: "\n") {
            if line.trimmingCharacters(in: .whitespaces).hasPrefix("```") { inFence.toggle() }
            guard !inFence else { continue }
            var rest = Substring(line)
            while let open = rest.range(of: "](") {
                let after = rest[open.upperBound...]
                guard let close = after.firstIndex(of: ")") else { break }
                targets.append(String(after[..<close]))
                rest = after[close...]
            }
        }
        return targets
    }
}

@Suite("documented examples", .serialized)
struct DocExamplesTests {
    @Test("a kvmbench command in README.md or docs/*.md runs, dry-runs or parses", arguments: DocExamples.all)
    func documentedExample(_ example: DocExamples.Example) throws {
        switch try DocExamples.verdict(of: example) {
        case .passed:
            break
        case .failed(let why):
            Issue.record("\(example.file):\(example.line): \(example.text)\n\(why)")
        case .skipped(let why):
            // A cancelled test case is reported as passed by this swift-testing: say so on stderr too.
            FileHandle.standardError.write(Data("skipped \(example.file):\(example.line): \(example.text): \(why)\n".utf8))
            try Test.cancel("\(example.file):\(example.line): not run: \(why)")
        }
    }

    /// The extractor finds the examples: both pages with commands, continuation lines joined, and
    /// no comment or redirection in the words.
    @Test func theExamplesAreFound() throws {
        let examples = DocExamples.all
        #expect(examples.count >= 30, "\(examples.count) examples")
        #expect(examples.contains { $0.file == "README.md" && $0.text.hasPrefix("scripts/kvmbench suite nightly") })
        #expect(examples.contains { $0.file == "docs/scenarios.md" && $0.text.hasPrefix("kvmbench run memslots") })
        let joined = try #require(examples.first { $0.text.contains("--a-set /sys/kernel/mm/transparent_hugepage/enabled=always") })
        #expect(joined.text.contains("--rounds 4 --seed 7 -q"), "continuation lines joined: \(joined.text)")
        #expect(DocExamples.words(#"kvmbench run x --json > result.json   # a comment"#, home: "/h") == ["kvmbench", "run", "x", "--json"])
        #expect(DocExamples.words(#"kvmbench history accept 1 --reason "a (b) # c" ~/f"#, home: "/h")
                == ["kvmbench", "history", "accept", "1", "--reason", "a (b) # c", "/h/f"])
    }

    /// An exception or substitution that no longer matches an example is stale: remove it.
    @Test func everyExceptionAndSubstitutionMatchesAnExample() {
        let texts = DocExamples.all.map(\.text)
        for exception in DocExamples.exceptions {
            #expect(texts.contains { $0.contains(exception.fragment) }, "stale exception: \(exception.fragment)")
        }
        for substitution in DocExamples.substitutions {
            #expect(texts.contains { $0.contains(substitution.fragment) }, "stale substitution: \(substitution.fragment)")
        }
    }

    /// The check can fail: a documented command with an unknown flag, scenario or subcommand, an
    /// unfilled placeholder, or a command no rule covers fails, one per kind of check.
    @Test(arguments: [
        "kvmbench run demand-paging --vcpu 4",                          // parse only: unknown flag of the scenario
        "kvmbench run demand-pagin --vcpus 4",                          // parse only: unknown scenario
        "kvmbench ab run demand-paging --backing thp --b-sett /sys/kernel/mm/transparent_hugepage/enabled=never",   // parse only: misspelt side
        "kvmbench gate --suite no-such-suite",                          // parse only: unknown suite
        "kvmbench suite nightly --slot 4",                              // dry run: unknown guest flag
        "kvmbench compare reference/memslots-before-v4 reference/memslots-scalable-v4 --format cover",   // for real: bad value
        "kvmbench history lst",                                         // for real: unknown subcommand
        "kvmbench compare RESULT.json reference/memslots-scalable-v4",  // a placeholder nothing covers
        "kvmbench frobnicate",                                          // no rule
    ])
    func aBrokenExampleFails(_ text: String) throws {
        let verdict = try DocExamples.verdict(of: DocExamples.Example(file: "broken", line: 1, text: text))
        guard case .failed = verdict else {
            Issue.record("\(text): \(verdict), a failure expected")
            return
        }
    }

    /// The quick start keeps its two set-up commands, and CI (.ci/run) runs the test command it names.
    @Test func theQuickStartsTestCommandIsWhatCIRuns() throws {
        let readme = DocExamples.text(of: "README.md")
        let start = try #require(readme.range(of: "## Quick start"))
        let fence = try #require(readme.range(of: "```sh\n", range: start.upperBound..<readme.endIndex))
        let end = try #require(readme.range(of: "```", range: fence.upperBound..<readme.endIndex))
        let commands = readme[fence.upperBound..<end.lowerBound].split(separator: "\n").map {
            String($0.split(separator: "#", maxSplits: 1)[0]).trimmingCharacters(in: .whitespaces)
        }
        #expect(commands == ["scripts/kvmbench suite nightly", "scripts/test"])
        let ci = try String(contentsOf: DocExamples.repository.appendingPathComponent(".ci/run"), encoding: .utf8)
        let exec = try #require(ci.split(separator: "\n").last { $0.hasPrefix("exec ") })
        #expect(exec.dropFirst("exec ".count).trimmingCharacters(in: .whitespaces) == "scripts/test")
    }

    /// Every relative link of README.md and docs/*.md names a file that exists and, with `#…`, a
    /// heading of it; every page under docs/ is linked from the README.
    @Test func everyRelativeLinkResolves() {
        let manager = FileManager.default
        for document in DocExamples.documents {
            let folder = DocExamples.repository.appendingPathComponent(document).deletingLastPathComponent()
            for link in DocExamples.links(in: DocExamples.text(of: document)) {
                if link.hasPrefix("http://") || link.hasPrefix("https://") || link.hasPrefix("mailto:") { continue }
                let parts = link.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                let target = parts[0].isEmpty ? DocExamples.repository.appendingPathComponent(document) : folder.appendingPathComponent(parts[0])
                guard manager.fileExists(atPath: target.path) else {
                    Issue.record("\(document): link \(link): no such file")
                    continue
                }
                if parts.count == 2, target.pathExtension == "md" {
                    let text = (try? String(contentsOf: target, encoding: .utf8)) ?? ""
                    #expect(DocExamples.anchors(of: text).contains(parts[1]), "\(document): link \(link): no such heading")
                }
            }
        }
        let readmeLinks = DocExamples.links(in: DocExamples.text(of: "README.md"))
        for page in DocExamples.documents.dropFirst() {
            #expect(readmeLinks.contains { $0 == page || $0.hasPrefix(page + "#") }, "\(page) is not linked from README.md")
        }
    }
}
