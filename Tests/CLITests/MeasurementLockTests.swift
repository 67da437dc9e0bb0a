import Foundation
import Glibc
import Testing

/// One measuring kvmbench per host: while another process holds the measurement lock, a run with
/// --no-wait refuses with one line and exit 75, and one without it says it waits and runs once the
/// lock is free. Bad input is refused at once all the same (before any guest, so before the lock).
@Suite("command line: one measuring kvmbench per host", .serialized,
       .enabled(if: CLI.kvmUsable, "needs a usable /dev/kvm (the waiting run measures once the lock is free)"))
struct MeasurementLockTests {
    static let tiny = ["run", "demand-paging", "--vcpus", "1", "--mem-per-vcpu", "4M", "--repetitions", "1", "--warmups", "0",
                       "-q"]

    @Test func aSecondMeasuringKvmbenchWaitsOrRefuses() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kvmbench-lock-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let environment = ["KVMBENCH_LEDGER": folder.appendingPathComponent("ledger.json").path]
        // Another measuring kvmbench, as far as the lock is concerned: this process holds it.
        let lock = open(folder.appendingPathComponent("measuring.lock").path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        try #require(lock >= 0)
        defer { close(lock) }
        _ = "pid 1 since then: kvmbench suite nightly".withCString { pwrite(lock, $0, strlen($0), 0) }
        try #require(flock(lock, LOCK_EX) == 0)

        let refused = try CLI.run(Self.tiny + ["--no-wait"], environment: environment)
        #expect(refused.status == 75, "\(refused.stderr)")
        #expect(refused.stderr.split(separator: "\n").count == 1, "\(refused.stderr)")
        #expect(refused.stderr.contains("another kvmbench is measuring on this host (pid 1 since then: kvmbench suite nightly)"),
                "\(refused.stderr)")
        let bad = try CLI.run(["run", "demand-paging", "--vcpus", "0", "--no-wait"], environment: environment)
        #expect(bad.status == 64, "bad input is refused before the lock: \(bad.stderr)")

        let waiting = try ChildRun(Self.tiny, environment: environment)
        let said = waiting.wait(seconds: 30) { waiting.stderr.contains("waiting for another kvmbench measuring on this host") }
        #expect(said, "\(waiting.stderr)")
        #expect(waiting.process.isRunning, "it must wait while the lock is held")
        flock(lock, LOCK_UN)
        #expect(waiting.wait(seconds: 60) == 0, "\(waiting.stderr)")
    }
}
