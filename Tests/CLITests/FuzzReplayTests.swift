import Foundation
import Testing

/// The fuzz targets' seed corpus and every input fuzzing ever crashed on, replayed through the
/// same targets (the plain build of kvmbench-fuzz, beside kvmbench): each must pass without a trap.
@Suite("fuzz regressions")
struct FuzzReplayTests {
    static let targets = ["suite-file", "result-document", "size", "duration", "cpu-list", "placement"]

    static var fuzzer: URL { CLI.executable.deletingLastPathComponent().appendingPathComponent("kvmbench-fuzz") }

    static var root: URL {
        var directory = CLI.executable.deletingLastPathComponent()
        while directory.path != "/" && !FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
            directory = directory.deletingLastPathComponent()
        }
        return directory
    }

    @Test func everyTargetIsListed() throws {
        let outcome = try CLI.launch(Self.fuzzer, ["list"])
        #expect(outcome.status == 0)
        #expect(outcome.stdout.split(separator: "\n").map { String($0.split(separator: " ")[0]) } == Self.targets)
    }

    @Test(arguments: targets)
    func corpusAndRegressionsReplayWithoutACrash(target: String) throws {
        let corpus = Self.root.appendingPathComponent("Tests/Fuzz/corpus/\(target)")
        let regressions = Self.root.appendingPathComponent("Tests/Fuzz/regressions/\(target)")
        let outcome = try CLI.launch(Self.fuzzer, ["replay", target, corpus.path, regressions.path])
        #expect(outcome.status == 0, "\(target): status \(outcome.status): \(outcome.stderr)")
        let count = Int(outcome.stdout.split(separator: " ").dropFirst().first ?? "") ?? 0
        #expect(count >= 3, "\(outcome.stdout)")
    }
}
