import Foundation
import Testing
import TestSupport
@testable import History
import Results
import Statistics

/// Runs Apache Otava itself (scripts/install-deps --tests installs apache-otava into ~/.cache/kvmbench/venv-tests) on a series made from the
/// committed real nightly result, and holds its change points beside ours.
enum Otava {
    /// Why Otava cannot be run here, or nil when it can.
    static let unavailable: String? = {
        guard let outcome = try? Python.run(["-c", "import otava.analysis"]) else { return "\(Python.executable) cannot be started" }
        return outcome.status == 0 ? nil
            : "\(Python.executable) cannot import otava (scripts/install-deps --tests installs apache-otava into ~/.cache/kvmbench/venv-tests)"
    }()

    static let script = """
        import json, sys
        from otava.analysis import compute_change_points
        series = json.loads(sys.argv[1])
        cps, _ = compute_change_points(series, window_len=int(sys.argv[2]), max_pvalue=0.001)
        print(json.dumps([[int(c.index), float(c.stats.pvalue)] for c in cps]))
        """

    static func changePoints(_ series: [Double], window: Int) throws -> [(index: Int, p: Double)] {
        let json = String(decoding: try JSONEncoder().encode(series), as: UTF8.self)
        let outcome = try Python.run(["-c", script, json, String(window)])
        guard outcome.status == 0, let rows = try? JSONDecoder().decode([[Double]].self, from: Data(outcome.output.utf8)) else {
            throw NSError(domain: "otava", code: Int(outcome.status), userInfo: [NSLocalizedDescriptionKey: outcome.output])
        }
        return rows.map { (Int($0[0]), $0[1]) }
    }
}

@Suite("change points against a live Apache Otava", .enabled(if: Unavailable.none(Otava.unavailable, for: "live Apache Otava"),
                                                            "needs python3 with apache-otava (scripts/install-deps --tests): skipped"))
struct OtavaLiveTests {
    /// Real noise: every gated sample of the committed nightly divided by its metric's median, in
    /// document order.
    static func realNoise() throws -> [Double] {
        try HistoryFixtures.nightly().cases.flatMap { result in
            result.metrics.filter { $0.gate && $0.median > 0 }.flatMap { m in m.samples.map { $0 / m.median } }
        }
    }

    @Test(arguments: [(length: 40, stepAt: 20, step: 1.2), (length: 60, stepAt: 25, step: 1.1), (length: 120, stepAt: 70, step: 0.85)])
    func aDoctoredStepInRealNoise(length: Int, stepAt: Int, step: Double) throws {
        let noise = try Self.realNoise()
        try #require(noise.count >= length, "the nightly holds \(noise.count) gated samples")
        let series = (0..<length).map { noise[$0] * ($0 >= stepAt ? step : 1) }
        for window in [50, 20] {
            let theirs = try Otava.changePoints(series, window: window)
            let ours = ChangePointDetection.changePoints(in: series, windowLength: window)
            #expect(ours.map(\.index) == theirs.map(\.index), "window \(window): ours \(ours.map(\.index)), Otava \(theirs.map(\.index))")
            for (mine, other) in zip(ours, theirs) {
                #expect(abs(mine.pValue - other.p) <= other.p * 1e-6 + 1e-300, "p at \(mine.index): \(mine.pValue) vs \(other.p)")
            }
        }
    }

    @Test func theRealNoiseAloneAgrees() throws {
        let series = Array(try Self.realNoise().prefix(100))
        let theirs = try Otava.changePoints(series, window: 50)
        #expect(ChangePointDetection.changePoints(in: series).map(\.index) == theirs.map(\.index))
    }
}
