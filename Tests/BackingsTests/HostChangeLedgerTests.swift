@testable import Backings
import Foundation
import Testing

/// The host-change ledger against a stand-in pool file (no root, no real pool touched).
@Suite("host-change ledger", .serialized)
struct HostChangeLedgerTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvmbench-ledger-\(UUID().uuidString)")
    var ledger: URL { directory.appendingPathComponent("ledger.json") }
    var pool: URL { directory.appendingPathComponent("nr_hugepages") }

    init() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// Runs `body` with KVMBENCH_LEDGER pointing at this test's ledger.
    private func withLedger<T>(_ body: () throws -> T) rethrows -> T {
        setenv("KVMBENCH_LEDGER", ledger.path, 1)
        defer {
            unsetenv("KVMBENCH_LEDGER")
            try? FileManager.default.removeItem(at: directory)
        }
        return try body()
    }

    private func setPool(_ pages: Int) throws { try "\(pages)\n".write(to: pool, atomically: false, encoding: .utf8) }
    private func poolPages() -> Int? { (try? String(contentsOf: pool, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } }

    private func change(before: Int, amount: Int, owner: LedgerOwner, confirmed: Bool = true) -> HostChange {
        var change = HostChange(kind: .hugepages, subject: "2M hugepage pool", path: pool.path, before: before, amount: amount, owner: owner)
        change.confirmed = confirmed
        return change
    }

    @Test func aReusedPidIsNotTheOwnerSoItsChangeIsUndoneAndALiveOwnersIsLeftAlone() throws {
        try withLedger {
            try setPool(36)
            let me = LedgerOwner.current
            #expect(me.startTime > 0)
            #expect(me.state == .live)
            // The same pid with another start time: a process that died and whose pid was reused.
            let reused = LedgerOwner(pid: me.pid, startTime: me.startTime + 1, bootID: me.bootID)
            #expect(reused.state == .gone)
            try HostChangeLedger.transaction { ledger throws(HostChangeLedger.Failure) in
                try ledger.record(change(before: 4, amount: 16, owner: reused))
                try ledger.record(change(before: 20, amount: 16, owner: me))
            }
            let line = try #require(HostChangeLedger.restoreStale())
            #expect(line == "restored the host changes of kvmbench processes that are gone: 2M hugepage pool 36 -> 20 page(s) (pid \(me.pid))")
            #expect(poolPages() == 20) // only the dead owner's 16 pages went; the live one's stay
            let left = HostChangeLedger.entries()
            #expect(left.count == 1 && left.first?.owner == me)
            HugepagePool.restoreAll() // this process's own change
            #expect(poolPages() == 4)
            #expect(HostChangeLedger.entries().isEmpty)
            #expect(HostChangeLedger.restoreStale() == nil)
        }
    }

    @Test func anOwnerThatDiedBeforeReadingBackUndoesAtMostWhatTheKernelGave() throws {
        try withLedger {
            try setPool(10) // asked for 16 more than 4; the kernel gave 6
            let gone = LedgerOwner(pid: Int32.max - 1, startTime: 1, bootID: LedgerOwner.current.bootID)
            try HostChangeLedger.transaction { ledger throws(HostChangeLedger.Failure) in
                try ledger.record(change(before: 4, amount: 16, owner: gone, confirmed: false))
            }
            #expect(HostChangeLedger.restoreStale()?.contains("10 -> 4 page(s)") == true)
            #expect(poolPages() == 4)
        }
    }

    @Test func changesFromAnEarlierBootAreDroppedWithoutTouchingThePool() throws {
        try withLedger {
            try setPool(16)
            let earlier = LedgerOwner(pid: 1, startTime: 1, bootID: "00000000-0000-0000-0000-000000000000")
            #expect(earlier.state == .earlierBoot)
            try HostChangeLedger.transaction { ledger throws(HostChangeLedger.Failure) in
                try ledger.record(change(before: 0, amount: 16, owner: earlier))
            }
            #expect(HostChangeLedger.restoreStale()?.contains("from an earlier boot, dropped") == true)
            #expect(poolPages() == 16)
            #expect(HostChangeLedger.entries().isEmpty)
        }
    }

    @Test func concurrentWritersLoseNoRecord() throws {
        try withLedger {
            try setPool(0)
            let gone = LedgerOwner(pid: Int32.max - 1, startTime: 1, bootID: LedgerOwner.current.bootID)
            DispatchQueue.concurrentPerform(iterations: 8) { _ in
                for _ in 0..<10 {
                    try? HostChangeLedger.transaction { ledger throws(HostChangeLedger.Failure) in
                        try ledger.record(change(before: 0, amount: 0, owner: gone))
                    }
                }
            }
            #expect(HostChangeLedger.entries().count == 80)
            let text = try String(contentsOf: ledger, encoding: .utf8)
            #expect(text.contains("\"changes\""))
        }
    }

    @Test func aLedgerThatIsNotOneIsReportedNotOverwritten() throws {
        try withLedger {
            try "not json".write(to: ledger, atomically: false, encoding: .utf8)
            let line = try #require(HostChangeLedger.restoreStale())
            #expect(line.contains("is not a kvmbench host-change ledger; check it, then delete it"), "\(line)")
            #expect(try String(contentsOf: ledger, encoding: .utf8) == "not json")
        }
    }

    /// The memory cgroup access-tracking moves kvmbench into, on this machine's real hierarchy.
    @Test(.enabled(if: getuid() == 0 && memoryCgroupMounted(), "needs root and a memory cgroup hierarchy: skipped"))
    func theAgingCgroupIsLeftAndRemovedAlsoWhenItsOwnerDied() throws {
        try withLedger {
            let before = try String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)
            let cgroup = try AgingCgroup.join()
            #expect(cgroup.containsThisProcess)
            #expect(FileManager.default.fileExists(atPath: cgroup.directory + "/cgroup.procs"))
            let recorded = HostChangeLedger.entries()
            #expect(recorded.count == 1 && recorded.first?.kind == .memoryCgroup && recorded.first?.origin != nil)
            cgroup.leave()
            #expect(!cgroup.containsThisProcess)
            #expect(!FileManager.default.fileExists(atPath: cgroup.directory))
            #expect(try String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8) == before)
            #expect(HostChangeLedger.entries().isEmpty)

            // A kvmbench killed inside its cgroup leaves it behind: the next one removes it.
            let origin = try #require(recorded.first?.origin)
            let leftBehind = (origin as NSString).appendingPathComponent("kvmbench-aging-test-\(UUID().uuidString.prefix(8))")
            #expect(mkdir(leftBehind, 0o755) == 0)
            let gone = LedgerOwner(pid: Int32.max - 2, startTime: 1, bootID: LedgerOwner.current.bootID)
            try HostChangeLedger.transaction { ledger throws(HostChangeLedger.Failure) in
                try ledger.record(HostChange(kind: .memoryCgroup, subject: "memory cgroup", path: leftBehind, before: 0, amount: 1,
                                             owner: gone, origin: origin))
            }
            let line = try #require(HostChangeLedger.restoreStale())
            #expect(line.contains("memory cgroup \(leftBehind) removed"), "\(line)")
            #expect(!FileManager.default.fileExists(atPath: leftBehind))
        }
    }
}

/// A cgroup v1 memory hierarchy or a cgroup v2 root that hands out the memory controller.
private func memoryCgroupMounted() -> Bool {
    let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
    if mounts.split(separator: "\n").contains(where: { $0.contains(" - cgroup ") && $0.hasSuffix(",memory") || $0.contains(" - cgroup cgroup rw,memory") }) { return true }
    let v2 = (try? String(contentsOfFile: "/sys/fs/cgroup/cgroup.subtree_control", encoding: .utf8)) ?? ""
    return v2.split(separator: " ").contains { $0.trimmingCharacters(in: .whitespacesAndNewlines) == "memory" }
}

@Suite("aging cgroup hierarchy")
struct AgingCgroupHierarchyTests {
    let v2 = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n"
    let v1 = "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"

    @Test func v2WhenItsRootHandsOutMemoryEvenAsTheOnlyControllerElseV1ElseTheReason() {
        let only = AgingCgroup.memoryHierarchy(cgroups: "0::/\n", mountinfo: v2, controllers: { _ in "memory\n" })
        #expect(only == .success(.init(mount: "/sys/fs/cgroup", ownPath: "/", version: "v2")))
        let v1Only = AgingCgroup.memoryHierarchy(cgroups: "4:memory:/job\n0::/\n", mountinfo: v2 + v1, controllers: { _ in "cpu io\n" })
        #expect(v1Only == .success(.init(mount: "/sys/fs/cgroup/memory", ownPath: "/job", version: "v1")))
        guard case .failure(let reason) = AgingCgroup.memoryHierarchy(cgroups: "0::/\n", mountinfo: v2, controllers: { _ in "cpu\n" }) else {
            Issue.record("no memory controller anywhere was accepted"); return
        }
        #expect(reason.description.contains("does not hand out the memory controller"))
    }
}
