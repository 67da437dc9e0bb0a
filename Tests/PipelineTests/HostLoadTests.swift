import Foundation
@testable import Pipeline
import Testing

/// A child kvmbench waited for (a selftest binary) is kvmbench's own work, not "other processes":
/// its CPU time moves the own counter by what it used, whatever else the machine runs.
@Suite("host load: children are kvmbench's own")
struct HostLoadChildTests {
    @Test func aWaitedForChildsCPUTimeCountsAsOwn() throws {
        let before = HostLoad.ownJiffies()
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sh")
        // About half a second of CPU time in the child alone.
        child.arguments = ["-c", "i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done; times"]
        let out = Pipe()
        child.standardOutput = out
        try child.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        child.waitUntilExit()
        let after = HostLoad.ownJiffies()
        // `times` prints the shell's own user and system time first ("0m0.512s 0m0.004s"); the
        // own counter takes user time (see `HostLoad`).
        let first = try #require(text.split(separator: "\n").first)
        let seconds = try #require(first.split(separator: " ").compactMap { field -> Double? in
            guard let m = field.firstIndex(of: "m"), field.hasSuffix("s") else { return nil }
            return (Double(field[..<m]) ?? 0) * 60 + (Double(field[field.index(after: m)..<field.index(before: field.endIndex)]) ?? 0)
        }.first)
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        #expect(seconds > 0.1, "the child used \(seconds) s: \(text)")
        #expect(Double(after - before) >= (seconds - 0.05) * ticks, "own +\(after - before) ticks, child \(seconds) s")
    }

    /// Another process spinning for a second is seen: about one CPU's share of the host.
    @Test func anotherProcessSpinningIsSeen() throws {
        // The loop runs in a grandchild that init adopts: another process, not kvmbench's child.
        // popen, not Process: pclose waits for the shell alone, not for the end of the pipe the
        // spinner inherits. The spinner is the exec'd shell itself, so that SIGKILL to its pid ends
        // the loop (children inherit a blocked SIGTERM from the test process).
        let shell = try #require(popen("(exec sh -c 'while :; do :; done') >/dev/null 2>&1 & echo $!", "r"))
        var line = [UInt8](repeating: 0, count: 32)
        // SAFETY: fgets writes at most `count` bytes, NUL included, into the array's own storage.
        let read = line.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { fgets($0, Int32(buffer.count), shell) } != nil
        }
        pclose(shell)
        let text = String(decoding: line.prefix { $0 != 0 }, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let pid = try #require(read ? Int32(text) : nil)
        defer {
            kill(pid, SIGKILL)
            usleep(50_000)
        }
        try #require(pid > 1)
        let start = HostLoad.snapshot()
        usleep(1_000_000)
        // Measured while it still spins (a process that ended counts only once reaped, by its parent).
        let percent = try #require(start.othersPercent())
        let oneCPU = 100 / Double(ProcessInfo.processInfo.activeProcessorCount)
        #expect(percent > 0.6 * oneCPU, "others \(percent)% while one process spun for a second (one CPU is \(oneCPU)%)")
    }
}
