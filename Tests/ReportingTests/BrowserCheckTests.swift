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
        for kind in ["scaling", "forest", "phases"] {
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

    /// Added to a copy of a page under test (the report itself has no scripts): opens every
    /// `<details>`, then records the viewport width, the box of every verdict cell of the comparison
    /// tables and of the badge inside it, every comparison row's height and every chart's box on
    /// `<body data-measured>`, which `--dump-dom` prints.
    static let measuringScript = """
        <script>
        for (const d of document.querySelectorAll('details')) d.open = true;
        const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.right, r.width, r.height]; };
        document.body.setAttribute('data-measured', JSON.stringify({
          viewport: document.documentElement.clientWidth,
          verdicts: Array.from(document.querySelectorAll('table.compare td.verdict'), td => box(td).concat(box(td.firstElementChild))),
          rows: Array.from(document.querySelectorAll('table.compare tbody tr'), tr => tr.getBoundingClientRect().height),
          charts: Array.from(document.querySelectorAll('svg.chart'), box)
        }));
        </script>
        """

    struct Measurement: Decodable {
        var viewport: Double
        /// [left, right, width, height] of the cell, then of its badge.
        var verdicts: [[Double]]
        var rows: [Double]
        var charts: [[Double]]
    }

    /// Loads `html` with the measuring script in a `width` px wide window and returns what it measured.
    private func measure(_ html: String, width: Int, in directory: URL, chromium: URL) throws -> Measurement {
        let page = directory.appendingPathComponent("measured-\(width).html")
        try html.replacingOccurrences(of: "</body>", with: Self.measuringScript + "</body>")
            .write(to: page, atomically: true, encoding: .utf8)
        let dom = try run(chromium, ["--window-size=\(width),900", "--hide-scrollbars", "--dump-dom", page.absoluteString], in: directory)
        let start = try #require(dom.range(of: "data-measured=\""), "no measurement in the DOM")
        let end = try #require(dom[start.upperBound...].firstIndex(of: "\""))
        let json = dom[start.upperBound..<end].replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&amp;", with: "&")
        return try JSONDecoder().decode(Measurement.self, from: Data(json.utf8))
    }

    /// The comparison page of the two real nightly runs, in a 1400 px and a 1024 px window: every
    /// verdict cell (informational ones unfolded) lies inside the window with its badge whole, every
    /// row is one line high, every chart fits. Screenshots of both widths are left in /tmp.
    @Test("The verdict column stays in the window at 1400 and 1024 px", .enabled(if: chromium != nil, "chromium not installed"))
    func verdictColumnStaysInTheWindow() throws {
        let chromium = try #require(Self.chromium)
        let (html, comparison) = try ComparisonPageTests.realPage()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvmbench-width-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let decided = comparison.metrics.filter { $0.verdict == .regressed || $0.verdict == .improved }.count
        let undecided = comparison.metrics.filter { $0.gate && $0.verdict.isUndecided }.count
        for width in [1400, 1024] {
            let measured = try measure(html, width: width, in: directory, chromium: chromium)
            // A vertical scroll bar may take its 15 px of the window.
            #expect(measured.viewport > Double(width) - 20 && measured.viewport <= Double(width),
                    "the page is \(measured.viewport) px wide in a \(width) px window")
            #expect(measured.verdicts.count == comparison.metrics.count + decided + undecided)
            for box in measured.verdicts {
                #expect(box[0] >= 0 && box[1] <= measured.viewport && box[2] > 40, "verdict cell \(box) at \(width) px")
                #expect(box[5] <= box[1] + 0.5 && box[6] > 20, "verdict badge \(box) cut at \(width) px")
            }
            #expect(measured.rows.allSatisfy { $0 > 0 && $0 < 30 }, "rows higher than a line: \(measured.rows.filter { $0 >= 30 })")
            #expect(!measured.charts.isEmpty)
            for chart in measured.charts { #expect(chart[0] >= 0 && chart[1] <= measured.viewport, "chart \(chart) at \(width) px") }

            let page = directory.appendingPathComponent("comparison.html")
            try html.write(to: page, atomically: true, encoding: .utf8)
            let shot = URL(fileURLWithPath: "/tmp/kvmbench-comparison-\(width).png")
            try? FileManager.default.removeItem(at: shot)
            _ = try run(chromium, ["--screenshot=\(shot.path)", "--window-size=\(width),2400", "--hide-scrollbars", page.absoluteString],
                        in: directory)
            #expect(FileManager.default.fileExists(atPath: shot.path))
        }
    }

    /// The trend page of a stepped series fits a 1024 px window and marks its change point.
    @Test("Chromium renders the trend page", .enabled(if: chromium != nil, "chromium not installed"))
    func trendPageRenders() throws {
        let chromium = try #require(Self.chromium)
        let html = TrendReport.render([TrendChartTests.steppedSeries()], title: "kvmbench history: first_touch_time")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvmbench-trend-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let measured = try measure(html, width: 1024, in: directory, chromium: chromium)
        #expect(measured.charts.count == 1)
        for chart in measured.charts { #expect(chart[0] >= 0 && chart[1] <= measured.viewport && chart[3] > 150) }
        let page = directory.appendingPathComponent("trend.html")
        try html.write(to: page, atomically: true, encoding: .utf8)
        let dom = try run(chromium, ["--dump-dom", page.absoluteString], in: directory)
        #expect(occurrences(of: "class=\"change-point\"", in: dom) == 1)
        let shot = URL(fileURLWithPath: "/tmp/kvmbench-trend.png")
        try? FileManager.default.removeItem(at: shot)
        _ = try run(chromium, ["--screenshot=\(shot.path)", "--window-size=1400,1000", "--hide-scrollbars", page.absoluteString], in: directory)
        #expect(FileManager.default.fileExists(atPath: shot.path))
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
