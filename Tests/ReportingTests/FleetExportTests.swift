import Foundation
import Reporting
import Results
import Testing
import TestSupport

@Suite("fleet exports: KCIDB, Bencher, Otava, LAVA")
struct FleetExportTests {
    /// A real nightly run, committed as the report sample.
    static func realRun() throws -> ResultDocument {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Reports/sample/nightly.json")
        return try ResultDocument.makeDecoder().decode(ResultDocument.self, from: Data(contentsOf: url))
    }

    static func temporary(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("kvmbench-fleet-\(UUID().uuidString)-\(name)")
    }

    @Test func everyGatedMetricOfAnOkCaseIsOneFigureAndEveryOtherCaseOne() throws {
        var document = try Self.realRun()
        document.cases.append(CaseResult(scenario: "memslots", parameters: ["slots": "9"], status: .unsupported, reason: "no slots"))
        document.cases.append(CaseResult(scenario: "zap-all", parameters: ["vcpus": "1"], status: .failed, reason: "guest shutdown"))
        let figures = FleetFigure.figures(of: document)
        let gated = document.cases.filter { $0.status == .ok }.map { $0.metrics.filter(\.gate).count }.reduce(0, +)
        #expect(gated > 20)
        #expect(figures.count == gated + document.cases.count { $0.status != .ok })
        #expect(figures.filter { $0.outcome == .skipped }.map(\.message).contains("no slots"))
        #expect(figures.filter { $0.outcome == .failed }.map(\.message) == ["guest shutdown"])
        let firstCase = document.cases.first { $0.status == .ok }
        let first = try #require(firstCase?.metrics.first { $0.gate })
        #expect(figures.first?.value == first.median)
    }

    @Test func aRegressionFailsAndAnUndecidedChangeIsInconclusive() {
        let comparison = Fixtures.comparison()
        let figures = FleetFigure.figures(of: comparison)
        for metric in comparison.metrics where metric.gate {
            let figure = figures.first { $0.caseKey == metric.caseKey && $0.metric == metric.metric }
            let expected: FigureOutcome = switch metric.verdict {
            case .regressed: .failed
            case .improved, .unchanged: .passed
            default: .inconclusive
            }
            #expect(figure?.outcome == expected, "\(metric.caseKey) \(metric.metric)")
            #expect(figure?.value == metric.afterMedian)
        }
        #expect(figures.contains { $0.outcome == .failed })
    }

    @Test("KCIDB documents validate with kcidb-io's schema",
          .enabled(if: Unavailable.none(Python.missing("kcidb_io", package: "kcidb-io"), for: "KCIDB validation"),
                    "needs python3 with kcidb-io (scripts/install-deps --tests): skipped"))
    func kcidbValidates() throws {
        var document = try Self.realRun()
        document.cases.append(CaseResult(scenario: "memslots", parameters: ["slots": "9"], status: .unsupported, reason: "no slots"))
        let run = try KCIDBExport.render(FleetFigure.figures(of: document), host: document.host, tool: document.kvmbench,
                                         startedAt: document.startedAt, kernelCommit: String(repeating: "a", count: 40))
        let compared = Fixtures.comparison()
        let comparison = try KCIDBExport.render(FleetFigure.figures(of: compared), host: compared.after.host,
                                                tool: compared.after.kvmbench, startedAt: Fixtures.start)
        for (name, data) in [("run", run), ("comparison", comparison)] {
            let file = Self.temporary("\(name).json")
            try data.write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let outcome = try Python.run(["-c", """
                import json, sys, kcidb_io
                data = json.load(open(sys.argv[1]))
                kcidb_io.schema.LATEST.validate(data)
                statuses = sorted({t["status"] for t in data["tests"]})
                print(len(data["tests"]), ",".join(statuses))
                """, file.path])
            #expect(outcome.status == 0, "\(name): \(outcome.output)")
            if name == "run" {
                let figures = FleetFigure.figures(of: document).count
                #expect(outcome.output.hasPrefix("\(figures) DONE,SKIP"), "\(outcome.output)")
            } else {
                #expect(outcome.output.contains("FAIL"), "\(outcome.output)")
            }
        }
    }

    @Test func bencherMetricFormatHoldsEveryMedianWithItsInterval() throws {
        let document = try Self.realRun()
        let data = try BencherMetricFormat.render(FleetFigure.figures(of: document))
        let decoded = try JSONDecoder().decode([String: [String: [String: Double]]].self, from: data)
        for item in document.cases where item.status == .ok {
            for metric in item.metrics where metric.gate {
                let measure = try #require(decoded[item.key]?[metric.name], "\(item.key) \(metric.name)")
                #expect(measure["value"] == metric.median)
                if let low = measure["lower_value"], let high = measure["upper_value"] {
                    #expect(low <= metric.median && metric.median <= high)
                }
            }
        }
    }

    @Test("Otava finds a doctored step in a CSV series of real runs",
          .enabled(if: Unavailable.none(Python.missing("otava", package: "apache-otava"), for: "Otava on a CSV series"),
                    "needs python3 with apache-otava (scripts/install-deps --tests): skipped"))
    func otavaFindsTheStep() throws {
        let real = try Self.realRun()
        let candidate = real.cases.first { $0.status == .ok && $0.metrics.contains { $0.gate } }
        let item = try #require(candidate)
        let gatedMetric = item.metrics.first { $0.gate }
        let metric = try #require(gatedMetric)
        // Twelve nights: the real medians with ±1% wobble, then from night 7 on the metric 30% slower.
        let documents = (0..<12).map { night -> ResultDocument in
            var document = real
            document.startedAt = real.startedAt.addingTimeInterval(Double(night) * 86_400)
            document.cases = [item]
            let factor = (night >= 6 ? 1.3 : 1.0) * (1 + 0.01 * Double(night % 3 - 1))
            let at = document.cases[0].metrics.firstIndex { $0.name == metric.name }!
            document.cases[0].metrics[at] = Metric(name: metric.name, unit: metric.unit, better: metric.better,
                                                   samples: metric.samples.map { $0 * factor }, gate: true)
            return document
        }
        let csv = OtavaCSV.render(documents.reversed())
        let lines = csv.split(separator: "\n")
        #expect(lines.count == 13)
        let column = OtavaCSV.columnName(caseKey: item.key, metric: metric.name)
        #expect(lines[0].split(separator: ",").contains(Substring(column)))
        let file = Self.temporary("series.csv")
        let config = Self.temporary("otava.yaml")
        try csv.write(to: file, atomically: true, encoding: .utf8)
        try """
            tests:
              nightly:
                type: csv
                file: \(file.path)
                time_column: time
                attributes: [\(OtavaCSV.attributes.joined(separator: ", "))]
                metrics: [\(column)]
            """.write(to: config, atomically: true, encoding: .utf8)
        defer { for url in [file, config] { try? FileManager.default.removeItem(at: url) } }
        let outcome = try Python.run(["-m", "otava.main", "analyze", "nightly"], environment: ["OTAVA_CONFIG": config.path])
        #expect(outcome.status == 0, "\(outcome.output)")
        // Otava prints the change between the rows it separates: right before the seventh night.
        let seventh = ISO8601DateFormatter().string(from: documents[6].startedAt).prefix(10)
        let printed = outcome.output.split(separator: "\n").map(String.init)
        let change = try #require(printed.firstIndex { $0.contains("+") && $0.contains("%") }, "\(outcome.output)")
        let next = try #require(printed[change...].first { $0.hasPrefix("20") })
        #expect(next.hasPrefix(String(seventh)), "\(outcome.output)")
    }

    @Test func lavaLinesHaveTheFormatOfLavaTestCase() throws {
        var document = try Self.realRun()
        document.cases.append(CaseResult(scenario: "memslots", parameters: ["slots": "9"], status: .unsupported, reason: "no slots"))
        let invocations = LAVATestCases.invocations(FleetFigure.figures(of: document))
        #expect(invocations.count == FleetFigure.figures(of: document).count)
        #expect(Set(invocations.map(\.name)).count == invocations.count)
        let pattern = /^lava-test-case [A-Za-z0-9_.-]+ --result (pass|fail|skip|unknown)( --measurement -?[0-9.e+-]+( --units [A-Za-z0-9\/%._-]+)?)?$/
        for invocation in invocations {
            #expect(invocation.line.wholeMatch(of: pattern) != nil, "\(invocation.line)")
        }
        #expect(invocations.last?.result == "skip")
        #expect(invocations.first?.measurement != nil)
    }
}
