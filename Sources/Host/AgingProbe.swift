import Foundation

/// How the host can age memory through KVM's MMU notifier (clear_young / test_young, which KVM
/// serves with kvm_age_gfn / kvm_test_age_gfn), in the order access-tracking prefers them.
public enum AgingMechanism: String, Sendable, Equatable {
    /// Multi-gen LRU (/sys/kernel/mm/lru_gen): aging walks page tables and asks KVM for young bits.
    case mglru
    /// Idle page tracking (/sys/kernel/mm/page_idle/bitmap), as the selftest uses it.
    case pageIdle = "page-idle"
    /// DAMON virtual-address monitoring of kvmbench's own pid through a kdamond of its own.
    case damonVaddr = "damon-vaddr"
}

/// What `AgingProbe` found: the mechanism to use, or why none can be used.
public enum AgingAvailability: Sendable, Equatable {
    case available(AgingMechanism)
    case unavailable(String)
}

/// Reads (never writes) the sysfs files that say which aging mechanism the host offers.
public struct AgingProbe: Sendable {
    /// `/sys/kernel/mm` on a real host; a directory of the same shape in tests.
    public var mmRoot: String
    public init(mmRoot: String = "/sys/kernel/mm") { self.mmRoot = mmRoot }

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: mmRoot + "/" + path) }
    func read(_ path: String) -> String? {
        (try? String(contentsOfFile: mmRoot + "/" + path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The first mechanism the host offers, else the reason for each that is missing.
    public func probe() -> AgingAvailability {
        if exists("lru_gen/enabled") { return .available(.mglru) }
        if exists("page_idle/bitmap") { return .available(.pageIdle) }
        var missing = ["no MGLRU (\(mmRoot)/lru_gen absent)", "no idle page tracking (\(mmRoot)/page_idle/bitmap absent)"]
        let kdamonds = "damon/admin/kdamonds"
        guard let count = read("\(kdamonds)/nr_kdamonds").flatMap(Int.init) else {
            missing.append("no DAMON sysfs interface (\(mmRoot)/\(kdamonds) absent)")
            return .unavailable(missing.joined(separator: ", "))
        }
        let running = (0..<count).filter { read("\(kdamonds)/\($0)/state") == "on" }
        if let busy = running.first {
            let pid = read("\(kdamonds)/\(busy)/pid") ?? "?"
            let operations = read("\(kdamonds)/\(busy)/contexts/0/operations") ?? "?"
            missing.append("and DAMON is taken: kdamond \(busy) (pid \(pid), operations \(operations)) is running, DAMON's sysfs refuses to add a kdamond while any runs (writing nr_kdamonds fails with EBUSY), and kvmbench does not stop or reconfigure a kdamond it did not start")
            return .unavailable(missing.joined(separator: ", "))
        }
        return .available(.damonVaddr)
    }
}
