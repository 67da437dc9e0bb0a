import Foundation

/// python3 as a child process, for the tests that hold kvmbench's output against Python tools
/// (jsonschema, kcidb-io, Apache Otava, the kernel's kunit.py).
public enum Python {
    /// The checkout this test binary was built from (this file is Tests/TestSupport/Python.swift).
    public static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The python3 the tests run: $KVMBENCH_PYTHON, else the virtual environment
    /// `scripts/test-tools` creates ($KVMBENCH_VENV, else ~/.cache/kvmbench/venv-tests, with
    /// jsonschema, kcidb-io and apache-otava from PyPI), else python3 on PATH.
    public static var executable: String {
        let environment = ProcessInfo.processInfo.environment
        if let chosen = environment["KVMBENCH_PYTHON"], !chosen.isEmpty { return chosen }
        let folder = environment["KVMBENCH_VENV"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.cache/kvmbench/venv-tests"
        let venv = folder + "/bin/python3"
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : "python3"
    }

    /// Runs `python3 ARGUMENTS` with `environment` added to this process's; its exit status and
    /// its standard output and error together.
    public static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let process = Process()
        let python = executable
        if python.hasPrefix("/") {
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [python] + arguments
        }
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
        guard let outcome = try? run(["-c", "import \(module)"]) else { return "\(executable) cannot be started" }
        return outcome.status == 0 ? nil
            : "\(executable) lacks \(package) (scripts/install-deps --tests installs it into ~/.cache/kvmbench/venv-tests): skipped"
    }
}

/// The Linux 6.12 source tree and KVM selftests `scripts/build-selftests` builds outside the
/// checkout: $KVMBENCH_SELFTESTS, else ~/.cache/kvmbench/selftests.
public enum BuiltKernelTree {
    public static var root: String {
        ProcessInfo.processInfo.environment["KVMBENCH_SELFTESTS"]
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/kvmbench/selftests").path
    }

    /// The kernel's KUnit tool (its KTAP parser): $KVMBENCH_KUNIT_PY, else the one in the tree
    /// `scripts/build-selftests` unpacked.
    public static var kunitPy: String {
        ProcessInfo.processInfo.environment["KVMBENCH_KUNIT_PY"]
            ?? root + "/linux-source-6.12/tools/testing/kunit/kunit.py"
    }
}
