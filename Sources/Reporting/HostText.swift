import Results

/// `kvmbench host` as tables: what the host is, its KVM capabilities and module parameters, which
/// backings it can provide, and the host changes kvmbench has recorded.
public enum HostText {
    /// One reservation of the host-change ledger as shown: what changed, its owner's pid, and nil
    /// when the owner is live or the owner's state ("exited", ...) when it is stale.
    public struct Change: Sendable {
        public var summary: String
        public var pid: Int32
        public var staleState: String?
        public init(summary: String, pid: Int32, staleState: String?) {
            self.summary = summary
            self.pid = pid
            self.staleState = staleState
        }
    }

    /// `hugepagesAvailable`: free pages per pool size ("2M"); `capabilities`: the capability names
    /// in the order to show them; `backings`: each backing's status ("ok", "unsupported: ...").
    public static func render(_ host: HostFingerprint, hugepagesAvailable: [String: Int], capabilities: [String],
                              backings: [(backing: String, status: String)], colour: Bool) -> String {
        var general = TextTable(columns: [.init("property"), .init("value")])
        func row(_ name: String, _ value: String) { general.append([TextTable.Cell(name), TextTable.Cell(value)]) }
        row("host", host.hostname)
        row("kernel", host.kernelRelease)
        row("cpu", host.cpuModel)
        if let topology = host.topology {
            row("topology", "\(topology.packages) package(s), \(topology.numaNodes) NUMA node(s), \(topology.cores) core(s), \(topology.processingUnits) CPU(s)")
            for (name, size) in topology.caches.sorted(by: { $0.key < $1.key }) { row("cache \(name)", UnitFormatting.bytes(size)) }
        }
        row("memory", UnitFormatting.bytes(host.memTotalBytes))
        row("THP", host.thpMode)
        for (size, pages) in host.hugepagePools.sorted(by: { $0.key < $1.key }) {
            row("hugepages \(size)", "\(pages) page(s) in the pool, \(hugepagesAvailable[size] ?? 0) available")
        }
        row("KVM module", host.kvmModule)
        row("MMU", host.mmu?.rawValue ?? "unknown (no KVM module recognised)")
        row("emulated CPU", host.emulated == true ? "yes (QEMU TCG): timings are behaviour, not performance" : "no")
        row("KVM API version", "\(host.kvmAPIVersion)")

        var capabilityTable = TextTable(columns: [.init("capability"), .init("value")])
        for name in capabilities { capabilityTable.append([TextTable.Cell(name), TextTable.Cell("\(host.capabilities[name] ?? 0)")]) }

        var parameters = TextTable(columns: [.init("module parameter"), .init("value")])
        for (name, value) in host.kvmParameters.sorted(by: { $0.key < $1.key }) { parameters.append([TextTable.Cell(name), TextTable.Cell(value)]) }

        var backingTable = TextTable(columns: [.init("backing"), .init("status")])
        for (name, status) in backings { backingTable.append([TextTable.Cell(name), TextTable.Cell(status)]) }

        return [general, capabilityTable, parameters, backingTable].map { $0.render(colour: colour) }.joined(separator: "\n")
    }

    /// Reservations in the host-change ledger: live (their kvmbench runs) or stale (it is gone and
    /// its changes could not be undone at start, e.g. without root).
    public static func changes(_ changes: [Change], ledger: String, colour: Bool) -> String {
        if changes.isEmpty { return "host changes: none recorded (\(ledger))" }
        var table = TextTable(columns: [.init("host change"), .init("owner"), .init("state")])
        for change in changes {
            let state = change.staleState.map { "stale (\($0)): `kvmbench restore` as root undoes it" } ?? "live"
            table.append([change.summary, "pid \(change.pid)", state].map { TextTable.Cell($0) })
        }
        return table.render(colour: colour) + "\nledger: \(ledger)"
    }
}
