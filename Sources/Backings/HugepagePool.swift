import Foundation
import KVM

/// Why a backing cannot be had on this host; reported as "unsupported: <reason>".
public struct BackingUnsupported: Error, CustomStringConvertible, Sendable {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// The hugetlb pools under /sys/kernel/mm/hugepages: how many pages exist and are free, and
/// reservations that kvmbench makes and undoes.
///
/// Every reservation is recorded in the host-change ledger (`HostChangeLedger`, a file that outlives
/// the process) before the pool is touched, so `HugepagePool.restoreAll()` puts every pool back on
/// success, on failure and on a signal, and the next kvmbench does it after a SIGKILL or a crash.
public enum HugepagePool {
    static func path(_ size: HugepageSize, _ file: String) -> String { size.sysfsDirectory + "/" + file }

    static func read(_ size: HugepageSize, _ file: String) -> Int? {
        guard let text = try? String(contentsOfFile: path(size, file), encoding: .utf8) else { return nil }
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    static func write(_ size: HugepageSize, _ file: String, _ value: Int) -> Bool {
        guard let handle = FileHandle(forWritingAtPath: path(size, file)) else { return false }
        defer { try? handle.close() }
        do { try handle.write(contentsOf: Data("\(value)\n".utf8)) } catch { return false }
        return true
    }

    /// nr_hugepages of the pool, or nil when this host has no such pool.
    public static func total(_ size: HugepageSize) -> Int? { read(size, "nr_hugepages") }
    /// free_hugepages minus resv_hugepages: pages a new mapping can still get.
    public static func available(_ size: HugepageSize) -> Int? {
        guard let free = read(size, "free_hugepages") else { return nil }
        return free - (read(size, "resv_hugepages") ?? 0)
    }

    /// Makes sure `pages` pages of `size` are available, growing the pool when `allowReservation`.
    /// Throws `BackingUnsupported` saying what is short and by how much.
    public static func ensureAvailable(_ pages: Int, of size: HugepageSize, allowReservation: Bool) throws(BackingUnsupported) {
        guard let total = total(size), let available = available(size) else {
            throw BackingUnsupported("this host has no \(size.rawValue) hugetlb pool (\(size.sysfsDirectory) is missing)")
        }
        if available >= pages { return }
        let missing = pages - available
        guard allowReservation else {
            throw BackingUnsupported("needs \(pages) free \(size.rawValue) hugepages, the pool has \(available) (nr_hugepages \(total)); rerun with --reserve-hugepages to let kvmbench reserve \(missing) more and restore the pool afterwards")
        }
        // Recorded in the host-change ledger before the pool is touched, under the ledger's lock
        // (so another kvmbench's restore cannot interleave), and confirmed with what the kernel gave.
        do {
            try HostChangeLedger.transaction { ledger throws(HostChangeLedger.Failure) in
                let total = self.total(size) ?? total
                let change = HostChange(kind: .hugepages, subject: "\(size.rawValue) hugepage pool",
                                        path: path(size, "nr_hugepages"), before: total, amount: missing)
                try ledger.record(change)
                let target = total + missing
                let wrote = write(size, "nr_hugepages", target)
                let got = self.total(size) ?? total
                try ledger.update(change.id) {
                    $0.amount = max(0, got - total)
                    $0.confirmed = true
                }
                if got <= total { try ledger.remove(change.id) } // nothing changed, nothing to undo
                guard wrote else {
                    throw .init("cannot write \(path(size, "nr_hugepages")) to reserve \(missing) \(size.rawValue) hugepages (needs root)")
                }
                if got < target {
                    throw .init("asked the kernel for \(missing) more \(size.rawValue) hugepages, got \(got - total): not enough contiguous free memory")
                }
            }
        } catch {
            throw BackingUnsupported(error.description)
        }
    }

    /// Puts every pool this process grew back (by the pages it added), and drops the ledger's
    /// records of it. Idempotent. Other kinds of changes (a positive control's tracefs settings,
    /// which outlive a case) are left to their owners and to `HostChangeLedger.restoreOwn()`.
    public static func restoreAll() {
        HostChangeLedger.restoreOwn(kinds: [.hugepages])
    }

    /// Pool sizes now, for the host fingerprint ("2M" -> nr_hugepages).
    public static func snapshot() -> [String: Int] {
        var out: [String: Int] = [:]
        for size in HugepageSize.allCases { if let total = total(size) { out[size.rawValue] = total } }
        return out
    }
}
