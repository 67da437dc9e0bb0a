import ArgumentParser
import Backings
import Foundation
import Reporting

/// Undoes the host changes (hugepage pools) of kvmbench processes that are gone. Every kvmbench
/// command does this at start too (`HostChangeRecovery.atStart`); this command does it on demand
/// and says what is left.
struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore what killed kvmbench processes left changed on the host (hugepage pools), from the host-change ledger.",
        discussion: """
        kvmbench records every change it makes to the host in a ledger before making it (\(HostChangeLedger.location.path);
        $KVMBENCH_LEDGER overrides it). Every kvmbench command undoes, at start, the changes of processes that are gone;
        this command does it on demand. Changes of kvmbench processes still running are left alone unless --all is given.
        """)

    @Flag(help: "Also undo the changes of kvmbench processes that still run (their guests may lose hugepages they have not touched yet).")
    var all = false

    func run() throws {
        let line = HostChangeLedger.restore(including: { all || $0.owner.state != .live },
                                            action: "restored")
        print(line ?? "nothing to restore (\(HostChangeLedger.location.path))")
        let live = HostChangeLedger.entries().filter { $0.owner.state == .live }
        if !live.isEmpty {
            print("left alone, their kvmbench still runs: " + live.map { "\($0.summary) (pid \($0.owner.pid))" }.joined(separator: "; "))
        }
        if line?.contains("could not restore") == true || line?.hasPrefix("cannot") == true { throw ExitCode.failure }
    }
}

/// The start of every kvmbench command: undo what dead kvmbench processes left on the host.
enum HostChangeRecovery {
    /// `command`: the first argument (`kvmbench restore` reports this itself).
    static func atStart(command: String?) {
        if command == RestoreCommand.configuration.commandName { return }
        if let line = HostChangeLedger.restoreStale() {
            FileHandle.standardError.write(Data("kvmbench: \(line)\n".utf8))
        }
    }
}
