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
        let pools = Dictionary(uniqueKeysWithValues: fingerprint.hugepagePools.keys.map { ($0, HostProbe.hugepagesAvailable($0) ?? 0) })
        print(HostText.render(fingerprint, hugepagesAvailable: pools, capabilities: Capability.allCases.map(\.description),
                              backings: backings, colour: colour))
        print(HostText.changes(changes.map { change in
            HostText.Change(summary: change.summary, pid: change.owner.pid,
                            staleState: change.owner.state == .live ? nil : change.owner.state.rawValue)
        }, ledger: HostChangeLedger.location.path, colour: colour))
    }
}
