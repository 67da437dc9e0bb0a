import ArgumentParser
import Foundation
import Host
import KVM
import Results

/// kvmbench's documented exit statuses (see `kvmbench --help`).
enum ExitStatus {
    static let regression: Int32 = 2
    static let caseFailed: Int32 = 3
    static let baselineProblem: Int32 = 4
    /// `gate`: a gated metric could not be decided (no regression shown, none ruled out).
    static let inconclusive: Int32 = 5
    static let usage: Int32 = 64
    /// Another kvmbench is measuring on this host and `--no-wait` was given (EX_TEMPFAIL).
    static let busy: Int32 = 75
    static let noKVM: Int32 = 69
    static let noPermission: Int32 = 77
}

/// Prints `message` as one line on stderr and exits with `status`.
func fail(_ message: String, status: Int32) -> Never {
    FileHandle.standardError.write(Data("kvmbench: \(message)\n".utf8))
    Foundation.exit(status)
}

/// Opens this invocation's host session on $KVMBENCH_DEVICE (else /dev/kvm), or exits with its
/// own status and a hint.
func openHost() -> HostSession {
    do {
        return try HostSession(devicePath: HostSession.devicePath(environment: ProcessInfo.processInfo.environment))
    } catch {
        switch error {
        case .missing: fail("\(error)", status: ExitStatus.noKVM)
        case .permissionDenied: fail("\(error)", status: ExitStatus.noPermission)
        default: fail("\(error)", status: 1)
        }
    }
}

/// Takes the host's measurement lock before the first guest of a measuring command (see
/// `MeasurementLock`): waits behind another measuring kvmbench, saying so on stderr, or with
/// `--no-wait` refuses with one line (exit 75, EX_TEMPFAIL: try again later).
func holdMeasurementLock(wait: Bool) {
    do {
        try MeasurementLock.acquire(wait: wait) { line in
            FileHandle.standardError.write(Data("kvmbench: \(line)\n".utf8))
        }
    } catch {
        fail(error.description, status: ExitStatus.busy)
    }
}

/// Which kvmbench this is: its version and, when built from a checkout, the commit.
enum ToolVersion {
    static let current: ToolInfo = ToolInfo(version: "0.1.0", gitCommit: gitCommit())

    private static func gitCommit() -> String? {
        if let commit = ProcessInfo.processInfo.environment["KVMBENCH_GIT_COMMIT"], !commit.isEmpty { return commit }
        // The executable lives in <checkout>/.build/<config>/kvmbench; read HEAD from the checkout.
        var directory = (Bundle.main.executableURL ?? URL(fileURLWithPath: "/proc/self/exe")).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            let head = directory.appendingPathComponent(".git/HEAD")
            if let text = try? String(contentsOf: head, encoding: .utf8) {
                let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
                guard trimmed.hasPrefix("ref: ") else { return String(trimmed.prefix(12)) }
                let ref = directory.appendingPathComponent(".git/" + trimmed.dropFirst(5))
                if let commit = try? String(contentsOf: ref, encoding: .utf8) { return String(commit.prefix(12)) }
                return nil
            }
            directory = directory.deletingLastPathComponent()
        }
        return nil
    }
}
