import ArgumentParser
import Foundation
import Pipeline
import Reporting
import Results

/// The formats kernel labs and dashboards read: KernelCI's KCIDB, Bencher's BMF, Apache Otava's
/// CSV and LAVA's `lava-test-case` results. `compare`, `gate` and `report` take them alike.
struct FleetExportOptions: ParsableArguments {
    @Option(name: .customLong("kcidb"), help: ArgumentHelp("Also write a KCIDB I/O document (schema v5): one test per case and gated metric, status from the verdict.", valueName: "file"))
    var kcidb: String?

    @Option(name: .customLong("bmf"), help: ArgumentHelp("Also write Bencher Metric Format JSON: every gated metric's median and interval.", valueName: "file"))
    var bmf: String?

    @Option(name: .customLong("csv"), help: ArgumentHelp("Also write the runs as Apache Otava's CSV layout: one row per run, one column per case and gated metric.", valueName: "file"))
    var csv: String?

    @Flag(name: .customLong("lava"), help: "Report every case and gated metric to LAVA: run lava-test-case when it is on PATH, else print its command lines.")
    var lava = false

    /// Writes the requested exports of `figures` (from a run or a comparison); `documents` are the
    /// runs behind them (the CSV's rows), `host` the host the figures were measured on.
    func write(_ figures: [FleetFigure], documents: [ResultDocument], host: HostFingerprint, tool: ToolInfo, startedAt: Date) {
        var files: [(String, () throws -> Data)] = []
        if let kcidb { files.append((kcidb, { try KCIDBExport.render(figures, host: host, tool: tool, startedAt: startedAt) })) }
        if let bmf { files.append((bmf, { try BencherMetricFormat.render(figures) })) }
        if let csv { files.append((csv, { Data(OtavaCSV.render(documents).utf8) })) }
        for (path, render) in files {
            do {
                try AtomicFile.write(try render(), to: URL(fileURLWithPath: path))
            } catch {
                fail(ErrorText.failed("write", path: path, error), status: 1)
            }
        }
        if lava { Self.reportToLAVA(LAVATestCases.invocations(figures)) }
    }

    /// Inside a LAVA job `lava-test-case` records each result; elsewhere the lines are printed so
    /// a test definition (or a person) can run them.
    static func reportToLAVA(_ invocations: [LAVATestCases.Invocation]) {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
            .map { "\($0)/lava-test-case" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let path else {
            for invocation in invocations { print(invocation.line) }
            return
        }
        for invocation in invocations {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: path)
            process.arguments = invocation.arguments
            do {
                try process.run()
                process.waitUntilExit()
                if process.terminationStatus != 0 {
                    FileHandle.standardError.write(Data("kvmbench: \(path) \(invocation.name) exited with status \(process.terminationStatus)\n".utf8))
                }
            } catch {
                fail(ErrorText.failed("run", path: path, error), status: 1)
            }
        }
    }
}
