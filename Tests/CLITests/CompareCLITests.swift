import Testing
import Foundation

/// `kvmbench compare` of the two real nightly runs committed with the project (the first
/// nightly baseline of 2026-11-24, as committed in 3d796f1, and the sample run of 2026-12-01), under the nightly suite's gate.
@Suite("command line: compare output")
struct CompareCLITests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let pair = [root.appendingPathComponent("Tests/Fixtures/old-documents/nightly-baseline-2026-11-24.json").path,
                       root.appendingPathComponent("Reports/sample/nightly-2026-12-01.json").path]

    @Test func theSummaryComesFirstAndVerboseListsTheInformationalMetrics() throws {
        let plain = try CLI.run(["compare"] + Self.pair)
        #expect(plain.status == 0, "\(plain.stderr)")
        let text = plain.stdout
        let summary = try #require(text.range(of: " gated metrics: "))
        let changed = try #require(text.range(of: "\nWhat changed\n"))
        let byCase = try #require(text.range(of: "\nBy case: gated metrics; informational ones counted (--verbose lists them)\n"))
        #expect(summary.lowerBound < changed.lowerBound && changed.lowerBound < byCase.lowerBound)
        #expect(text.contains("informational metrics changed too") && !text.contains("(not gated)"))
        #expect(!text.contains("\u{1B}"), "colour on a pipe")

        let verbose = try CLI.run(["compare", "--verbose"] + Self.pair)
        #expect(verbose.status == 0, "\(verbose.stderr)")
        #expect(verbose.stdout.contains("\nBy case: gated metrics first, then the informational ones\n"))
        #expect(verbose.stdout.contains("(not gated)") && !verbose.stdout.contains("informational metrics changed too"))
        #expect(verbose.stdout.split(separator: "\n").count > text.split(separator: "\n").count + 100)
    }
}
