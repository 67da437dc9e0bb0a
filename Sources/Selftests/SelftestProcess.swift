import Harness
import Dispatch
import Foundation
import Glibc
import Synchronization

/// One run of a selftest binary: what it printed (stdout and stderr interleaved, as on a
/// terminal), how it ended and how long it took.
public struct SelftestRun: Sendable, Equatable {
    public var output: String
    /// The exit status, or nil when a signal ended the process.
    public var exitStatus: Int32?
    /// The signal that ended the process, when one did.
    public var signal: Int32?
    /// True when kvmbench killed it for running longer than the timeout.
    public var timedOut: Bool
    /// Wall-clock seconds from start to exit, as kvmbench saw them (includes the selftest's set-up).
    public var seconds: Double

    public init(output: String, exitStatus: Int32?, signal: Int32?, timedOut: Bool, seconds: Double) {
        self.output = output
        self.exitStatus = exitStatus
        self.signal = signal
        self.timedOut = timedOut
        self.seconds = seconds
    }

    /// kselftest's exit status for a test that skipped itself (KSFT_SKIP).
    public static let skipStatus: Int32 = 4

    /// The last `count` lines of the output, for failure reasons.
    public func tail(_ count: Int = 20) -> String {
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false)
        let trimmed = lines.last == "" ? lines.dropLast() : lines[...]
        return trimmed.suffix(count).joined(separator: "\n")
    }
}

/// Runs selftest binaries.
public enum SelftestProcess {
    /// Runs `path` with `arguments` to completion, or kills it (SIGKILL) after `timeout` seconds.
    public static func run(path: String, arguments: [String], timeout: Double) throws -> SelftestRun {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        let started = MonotonicClock.now()
        try process.run()
        let watchdog = Watchdog(pid: process.processIdentifier)
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { watchdog.fire() }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let seconds = MonotonicClock.seconds(since: started)
        let timedOut = watchdog.disarm()
        let bySignal = process.terminationReason == .uncaughtSignal
        return SelftestRun(output: String(decoding: data, as: UTF8.self),
                           exitStatus: bySignal ? nil : process.terminationStatus,
                           signal: bySignal ? process.terminationStatus : nil,
                           timedOut: timedOut, seconds: seconds)
    }

    /// Kills the process once, unless the run finished first.
    final class Watchdog: Sendable {
        private enum State { case running, finished, fired }
        private let state = Mutex(State.running)
        private let pid: Int32
        init(pid: Int32) { self.pid = pid }

        func fire() {
            state.withLock { state in
                guard state == .running else { return }
                state = .fired
                kill(pid, SIGKILL)
            }
        }

        /// Stops the watchdog; true when it had fired.
        func disarm() -> Bool {
            state.withLock { state in
                let fired = state == .fired
                state = .finished
                return fired
            }
        }
    }
}
