import Foundation

/// python3 as a child process, for the tests that hold kvmbench's output against Python tools
/// (jsonschema, kcidb-io, Apache Otava).
public enum Python {
    /// Runs `python3 ARGUMENTS` with `environment` added to this process's; its exit status and
    /// its standard output and error together.
    public static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Why `module` cannot be imported, or nil when it can.
    public static func missing(_ module: String, package: String) -> String? {
        guard let outcome = try? run(["-c", "import \(module)"]) else { return "python3 is not installed" }
        return outcome.status == 0 ? nil : "python3 lacks \(package) (pip install \(package)): skipped"
    }
}
