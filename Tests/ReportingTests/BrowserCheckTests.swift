import Testing
import Foundation
@testable import Reporting
import Results

/// Opens the HTML report in headless Chromium (Debian's `chromium` package), when installed, to
/// check that a real browser builds the DOM we meant, and leaves a screenshot for a human to look at.
@Suite("Browser check", .serialized)
struct BrowserCheckTests {
    /// The `chromium` executable on PATH, or nil.
    static let chromium: URL? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":")
            .map { URL(fileURLWithPath: String($0)).appendingPathComponent("chromium") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    static let screenshot = URL(fileURLWithPath: "/tmp/kvmbench-report.png")
    /// A copy of the rendered report beside the screenshot, for a human to open.
    static let reportCopy = URL(fileURLWithPath: "/tmp/kvmbench-report.html")

    @Test("Chromium renders the charts", .enabled(if: chromium != nil, "chromium not installed"))
    func chromiumRendersTheReport() throws {
        let chromium = try #require(Self.chromium)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvmbench-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let page = directory.appendingPathComponent("report.html")
        let html = HTMLReport.render(documents: [Fixtures.documentA(), Fixtures.documentB(), Fixtures.hostileDocument()],
                                     comparison: Fixtures.comparison(), title: "kvmbench report")
        try html.write(to: page, atomically: true, encoding: .utf8)
        try? html.write(to: Self.reportCopy, atomically: true, encoding: .utf8)

        let dom = try run(chromium, ["--dump-dom", page.absoluteString], in: directory)
        for kind in ["scaling", "bars", "phases"] {
            #expect(dom.contains("data-chart=\"\(kind)\""), "no \(kind) chart in the browser's DOM")
        }
        // A parse problem (stray tag, unclosed element) changes the element counts the browser builds.
        for tag in ["<svg", "<section", "<table", "<details", "<figure"] {
            #expect(occurrences(of: tag, in: dom) == occurrences(of: tag, in: html), "\(tag) count differs in the browser's DOM")
        }
        #expect(!dom.contains("<script"), "hostile text became a script element")
        #expect(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))

        try? FileManager.default.removeItem(at: Self.screenshot)
        _ = try run(chromium, ["--screenshot=\(Self.screenshot.path)", "--window-size=1400,2000", "--hide-scrollbars",
                               page.absoluteString], in: directory)
        #expect(FileManager.default.fileExists(atPath: Self.screenshot.path))
    }

    /// The sample committed under Reports/sample: the result document of a real nightly run.
    static let realResults = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Reports/sample/nightly.json")

    @Test("Chromium loads a report of real results without errors", .enabled(if: chromium != nil, "chromium not installed"))
    func chromiumRendersRealResults() throws {
        let chromium = try #require(Self.chromium)
        let document = try ResultDocument.makeDecoder().decode(ResultDocument.self, from: Data(contentsOf: Self.realResults))
        #expect(document.cases.count >= 10)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvmbench-real-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let page = directory.appendingPathComponent("nightly.html")
        let html = HTMLReport.render(documents: [document], comparison: nil, title: "nightly")
        try html.write(to: page, atomically: true, encoding: .utf8)
        let log = directory.appendingPathComponent("chromium.log")
        let dom = try run(chromium, ["--enable-logging=stderr", "--v=0", "--dump-dom", page.absoluteString], in: directory, errors: log)
        // The nightly suite sweeps vCPUs (a scaling curve) and runs phased scenarios (phase charts).
        #expect(dom.contains("data-chart=\"scaling\""))
        #expect(dom.contains("data-chart=\"phases\""))
        for tag in ["<svg", "<section", "<table"] {
            #expect(occurrences(of: tag, in: dom) == occurrences(of: tag, in: html), "\(tag) count differs in the browser's DOM")
        }
        let messages = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        #expect(!messages.contains("CONSOLE"), "the page logged to the console: \(messages)")
        #expect(!messages.contains("Failed to load"), "the page tried to load something: \(messages)")
    }

    private func occurrences(of needle: String, in text: String) -> Int {
        text.components(separatedBy: needle).count - 1
    }

    /// Runs headless Chromium with `arguments` and returns its standard output; gives up after two minutes.
    private func run(_ chromium: URL, _ arguments: [String], in directory: URL, errors: URL? = nil) throws -> String {
        let output = directory.appendingPathComponent("stdout-\(UUID().uuidString).txt")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        defer { try? handle.close() }
        let process = Process()
        process.executableURL = chromium
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             "--user-data-dir=\(directory.appendingPathComponent("profile").path)"] + arguments
        process.standardOutput = handle
        if let errors {
            _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: errors)
        } else {
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        if process.isRunning {
            process.terminate()
            Issue.record("chromium did not finish within two minutes")
        }
        process.waitUntilExit()
        return try String(contentsOf: output, encoding: .utf8)
    }
}
