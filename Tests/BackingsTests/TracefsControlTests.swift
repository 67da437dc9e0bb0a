@testable import Backings
import Foundation
import Testing

/// What a positive control may touch in tracefs, as a test can see it: where tracefs is mounted,
/// the top-level switches of the event and of stack traces, and the instances. When tracefs is
/// mounted nowhere it is mounted for the look (at a directory of the test's) and unmounted again.
struct TracefsState: Equatable, CustomStringConvertible {
    var mounts: [String]
    var eventEnable: String?
    var stacktrace: String?
    var instances: [String]

    var description: String {
        "mounts \(mounts), \(TracefsControl.system):\(TracefsControl.event) enable \(eventEnable ?? "-"), stacktrace \(stacktrace ?? "-"), instances \(instances)"
    }

    static func read() -> TracefsState {
        let mounts = TracefsControl.mountPoints(of: "tracefs")
        var root = mounts.first
        var peek: String?
        if root == nil {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvmbench-tracefs-peek-\(UUID().uuidString)").path
            if mkdir(directory, 0o700) == 0, mount("nodev", directory, "tracefs", 0, nil) == 0 {
                root = directory
                peek = directory
            }
        }
        defer {
            if let peek {
                umount2(peek, 0)
                rmdir(peek)
            }
        }
        func value(_ file: String) -> String? {
            root.flatMap { try? String(contentsOfFile: "\($0)/\(file)", encoding: .utf8) }?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let instances = root.flatMap { try? FileManager.default.contentsOfDirectory(atPath: "\($0)/instances") }?.sorted() ?? []
        return TracefsState(mounts: mounts, eventEnable: value("events/\(TracefsControl.system)/\(TracefsControl.event)/enable"),
                            stacktrace: value("options/stacktrace"), instances: instances)
    }
}

/// Root, tracefs in the kernel and the kvmmmu events: what the control needs.
func tracefsControlUsable() -> Bool {
    guard TracefsControl.precheck() == nil else { return false }
    return TracefsState.read().eventEnable != nil
}

/// The positive control's tracefs changes through the host-change ledger. Part of the ledger's
/// serialized suite: both point KVMBENCH_LEDGER, a process-wide setting, at a ledger of their own.
extension HostChangeLedgerTests {
    private func withControlLedger<T>(_ body: () throws -> T) rethrows -> T {
        setenv("KVMBENCH_LEDGER", ledger.path, 1)
        defer {
            unsetenv("KVMBENCH_LEDGER")
            try? FileManager.default.removeItem(at: directory)
        }
        return try body()
    }

    @Test func withoutRootOrTracefsTheControlIsRefusedWithTheReason() {
        let noRoot = TracefsControl.precheck(euid: 1000)
        #expect(noRoot?.description.contains("needs root") == true, "\(String(describing: noRoot))")
        let noTracefs = TracefsControl.precheck(euid: 0, mountinfo: "", filesystems: "nodev\tproc\nnodev\ttmpfs\n")
        #expect(noTracefs?.description.contains("no tracefs") == true, "\(String(describing: noTracefs))")
        let mountedElsewhere = "45 24 0:12 / /sys/kernel/trac\\040ing rw,relatime shared:20 - tracefs tracefs rw"
        #expect(TracefsControl.precheck(euid: 0, mountinfo: mountedElsewhere, filesystems: "") == nil)
        #expect(TracefsControl.mountPoint(mountinfo: mountedElsewhere) == "/sys/kernel/trac ing")
    }

    @Test(.enabled(if: tracefsControlUsable(), "needs root, tracefs and the kvmmmu trace events: skipped"))
    func theControlIsOnWhileAppliedAndTracefsIsAsFoundAfterward() throws {
        try withControlLedger {
            let found = TracefsState.read()
            let control = try TracefsControl.apply(.stacktrace)
            #expect(FileManager.default.fileExists(atPath: control.instance))
            #expect(TracefsControl.readSwitch(control.instance + "/events/kvmmmu/kvm_mmu_set_spte/enable") == 1)
            #expect(TracefsControl.readSwitch(control.instance + "/options/stacktrace") == 1)
            let kinds = HostChangeLedger.entries().map(\.kind)
            #expect(kinds.filter { $0 == .tracefsSetting }.count == 2 && kinds.contains(.tracefsInstance), "\(kinds)")
            #expect(kinds.contains(.tracefsMount) == found.mounts.isEmpty)
            // The host's own switches are not the control's: they stay as found.
            #expect(TracefsState.read().eventEnable == found.eventEnable)
            control.remove()
            #expect(HostChangeLedger.entries().isEmpty)
            #expect(TracefsState.read() == found)
        }
    }

    @Test(.enabled(if: tracefsControlUsable(), "needs root, tracefs and the kvmmmu trace events: skipped"))
    func aControlWhoseOwnerIsGoneIsUndoneNewestFirstByTheNextKvmbench() throws {
        try withControlLedger {
            let found = TracefsState.read()
            let control = try TracefsControl.apply(.event)
            // Make the records look like a dead process's, as a SIGKILL would leave them.
            let gone = LedgerOwner(pid: Int32.max - 3, startTime: 1, bootID: LedgerOwner.current.bootID)
            try HostChangeLedger.transaction { ledger throws(HostChangeLedger.Failure) in
                for change in ledger.changes { try ledger.update(change.id) { $0.owner = gone } }
            }
            let line = try #require(HostChangeLedger.restoreStale())
            #expect(line.hasPrefix("restored the host changes of kvmbench processes that are gone: "), "\(line)")
            #expect(line.contains("tracefs instance \(control.instance) removed"), "\(line)")
            #expect(!line.contains("could not"), "\(line)")
            #expect(TracefsState.read() == found)
            #expect(HostChangeLedger.entries().isEmpty)
            control.remove() // already undone: nothing left to do, nothing said
            #expect(TracefsState.read() == found)
        }
    }
}
