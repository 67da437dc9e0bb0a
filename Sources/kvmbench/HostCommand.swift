import ArgumentParser
import Backings
import Foundation
import Host
import KVM
import Reporting
import Results
import Suites

struct HostCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "host",
        abstract: "Show what this host is and what its KVM can do: kernel, CPUs, topology, KVM module and parameters, capabilities, backings.")

    @Flag(help: "Print the host fingerprint and backing support as JSON.")
    var json = false

    func run() throws {
        let fingerprint = openHost().fingerprint
        let backings = HostProbe.backingSupport()
        let changes = HostChangeLedger.entries()
        if json {
            struct Change: Encodable {
                let change: HostChange; let state: String
                enum CodingKeys: String, CodingKey { case kind, subject, path, before, amount, confirmed, pid, state }
                func encode(to encoder: any Encoder) throws {
                    var container = encoder.container(keyedBy: CodingKeys.self)
                    try container.encode(change.kind, forKey: .kind)
                    try container.encode(change.subject, forKey: .subject)
                    try container.encode(change.path, forKey: .path)
                    try container.encode(change.before, forKey: .before)
                    try container.encode(change.amount, forKey: .amount)
                    try container.encode(change.confirmed, forKey: .confirmed)
                    try container.encode(change.owner.pid, forKey: .pid)
                    try container.encode(state, forKey: .state)
                }
            }
            struct Output: Encodable {
                let host: HostFingerprint; let backings: [String: String]; let hostChanges: [Change]; let ledger: String
                enum CodingKeys: String, CodingKey { case host, backings, hostChanges = "host_changes", ledger }
            }
            let data = try ResultDocument.makeEncoder().encode(Output(
                host: fingerprint, backings: Dictionary(uniqueKeysWithValues: backings),
                hostChanges: changes.map { Change(change: $0, state: $0.owner.state == .live ? "live" : "stale") },
                ledger: HostChangeLedger.location.path))
            print(String(decoding: data, as: UTF8.self))
            return
        }
        let colour = isatty(STDOUT_FILENO) != 0 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        var general = TextTable(columns: [.init("property"), .init("value")])
        general.append(["host", fingerprint.hostname].map { TextTable.Cell($0) })
        general.append(["kernel", fingerprint.kernelRelease].map { TextTable.Cell($0) })
        general.append(["cpu", fingerprint.cpuModel].map { TextTable.Cell($0) })
        if let topology = fingerprint.topology {
            general.append(["topology", "\(topology.packages) package(s), \(topology.numaNodes) NUMA node(s), \(topology.cores) core(s), \(topology.processingUnits) CPU(s)"].map { TextTable.Cell($0) })
            for (name, size) in topology.caches.sorted(by: { $0.key < $1.key }) { general.append(["cache \(name)", UnitFormatting.bytes(size)].map { TextTable.Cell($0) }) }
        }
        general.append(["memory", UnitFormatting.bytes(fingerprint.memTotalBytes)].map { TextTable.Cell($0) })
        general.append(["THP", fingerprint.thpMode].map { TextTable.Cell($0) })
        for (size, pages) in fingerprint.hugepagePools.sorted(by: { $0.key < $1.key }) {
            general.append(["hugepages \(size)", "\(pages) page(s) in the pool, \(HostProbe.hugepagesAvailable(size) ?? 0) available"].map { TextTable.Cell($0) })
        }
        general.append(["KVM module", fingerprint.kvmModule].map { TextTable.Cell($0) })
        general.append(["MMU", fingerprint.mmu?.rawValue ?? "unknown (no KVM module recognised)"].map { TextTable.Cell($0) })
        general.append(["emulated CPU", fingerprint.emulated == true ? "yes (QEMU TCG): timings are behaviour, not performance" : "no"].map { TextTable.Cell($0) })
        general.append(["KVM API version", "\(fingerprint.kvmAPIVersion)"].map { TextTable.Cell($0) })
        print(general.render(colour: colour))

        var capabilities = TextTable(columns: [.init("capability"), .init("value")])
        for capability in Capability.allCases { capabilities.append([capability.description, "\(fingerprint.capabilities[capability.description] ?? 0)"].map { TextTable.Cell($0) }) }
        print(capabilities.render(colour: colour))

        var parameters = TextTable(columns: [.init("module parameter"), .init("value")])
        for (name, value) in fingerprint.kvmParameters.sorted(by: { $0.key < $1.key }) { parameters.append([name, value].map { TextTable.Cell($0) }) }
        print(parameters.render(colour: colour))

        var backingTable = TextTable(columns: [.init("backing"), .init("status")])
        for (name, status) in backings { backingTable.append([name, status].map { TextTable.Cell($0) }) }
        print(backingTable.render(colour: colour))

        // Reservations in the host-change ledger: live (their kvmbench runs) or stale (it is gone
        // and its changes could not be undone at start, e.g. without root).
        if changes.isEmpty {
            print("host changes: none recorded (\(HostChangeLedger.location.path))")
        } else {
            var table = TextTable(columns: [.init("host change"), .init("owner"), .init("state")])
            for change in changes {
                let state = change.owner.state == .live ? "live" : "stale (\(change.owner.state.rawValue)): `kvmbench restore` as root undoes it"
                table.append([change.summary, "pid \(change.owner.pid)", state].map { TextTable.Cell($0) })
            }
            print(table.render(colour: colour))
            print("ledger: \(HostChangeLedger.location.path)")
        }
    }
}

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the scenarios (and suites) kvmbench can run.")

    func run() throws {
        let width = ScenarioCatalog.all.map { $0.name.count }.max() ?? 0
        print("Scenarios:")
        for scenario in ScenarioCatalog.all {
            print("  " + scenario.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + scenario.summary)
        }
        let library = SuiteLibrary()
        let suites = library.summaries()
        print("Suites (\(library.directory.path)):")
        if suites.isEmpty { print("  none (set KVMBENCH_SUITES to a directory of suite files)") }
        let suiteWidth = suites.map { $0.name.count }.max() ?? 0
        for suite in suites {
            print("  " + suite.name.padding(toLength: suiteWidth, withPad: " ", startingAt: 0) + "  " + suite.line)
        }
    }
}

import Scenarios
