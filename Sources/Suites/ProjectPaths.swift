import Foundation

/// Where kvmbench finds its suite files and baselines and writes its reports.
///
/// Each directory is, in order: the environment override (`KVMBENCH_SUITES`, `KVMBENCH_BASELINES`,
/// `KVMBENCH_REPORTS`); the directory of that name in the kvmbench checkout the executable was
/// built in (found by walking up from the executable, as `ToolVersion.gitCommit` does: the first
/// ancestor holding both `Package.swift` and `Suites/`); else the directory of that name in the
/// current directory.
public enum ProjectPaths {
    public static func suites(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        directory("Suites", override: "KVMBENCH_SUITES", environment: environment)
    }

    public static func baselines(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        directory("Baselines", override: "KVMBENCH_BASELINES", environment: environment)
    }

    public static func reports(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        directory("Reports", override: "KVMBENCH_REPORTS", environment: environment)
    }

    static func directory(_ name: String, override: String, environment: [String: String]) -> URL {
        if let path = environment[override], !path.isEmpty { return URL(fileURLWithPath: path, isDirectory: true) }
        if let root = checkoutRoot() { return root.appendingPathComponent(name, isDirectory: true) }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
            .appendingPathComponent(name, isDirectory: true)
    }

    /// The kvmbench checkout the running executable lives in (`<checkout>/.build/<triple>/<config>/kvmbench`),
    /// or nil for an installed copy.
    public static func checkoutRoot() -> URL? {
        let executable = Bundle.main.executableURL ?? URL(fileURLWithPath: "/proc/self/exe")
        var directory = executable.resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<8 {
            if isCheckout(directory) { return directory }
            let parent = directory.deletingLastPathComponent()
            if parent.path == directory.path { break }
            directory = parent
        }
        return nil
    }

    static func isCheckout(_ directory: URL) -> Bool {
        var isDirectory: ObjCBool = false
        let manager = FileManager.default
        return manager.fileExists(atPath: directory.appendingPathComponent("Package.swift").path)
            && manager.fileExists(atPath: directory.appendingPathComponent("Suites").path, isDirectory: &isDirectory)
            && isDirectory.boolValue
    }

    /// `Reports/<suite>-<UTC timestamp>-<pid>.json`: two runs started in the same second never
    /// write the same file (pids are unique among running processes).
    public static func defaultReport(suite: String, date: Date = Date(), pid: Int32 = getpid(),
                                     environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        reports(environment: environment).appendingPathComponent("\(suite)-\(timestamp(date))-\(pid).json")
    }

    /// 20250102T030405Z.
    public static func timestamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: date)
    }
}

/// The suite files of a directory, by name.
public struct SuiteLibrary: Sendable {
    public var directory: URL

    public init(directory: URL = ProjectPaths.suites()) { self.directory = directory }

    /// The names of the suites (`*.yaml` files, without the extension), sorted.
    public var names: [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".yaml") && !$0.hasPrefix(".") }
            .map { String($0.dropLast(5)) }.sorted()
    }

    public func url(of name: String) -> URL { directory.appendingPathComponent(name + ".yaml") }

    /// Reads the suite called `name`; an unknown name lists the known ones.
    public func load(_ name: String) throws(SuiteError) -> SuiteDefinition {
        let known = names
        guard SuiteNames.isValid(name), known.contains(name) else {
            let list = known.isEmpty ? "none found in \(directory.path) (set KVMBENCH_SUITES)" : known.joined(separator: ", ")
            throw .usage("unknown suite '\(name)'; known suites: \(list)")
        }
        return try SuiteParser.parse(contentsOf: url(of: name), label: relativeLabel(name))
    }

    /// "Suites/name.yaml" when the directory is called Suites, else the full path.
    func relativeLabel(_ name: String) -> String {
        directory.lastPathComponent == "Suites" ? "Suites/\(name).yaml" : url(of: name).path
    }

    /// One line per suite: name, case count, description; unreadable files say why.
    public func summaries() -> [(name: String, line: String)] {
        names.map { name in
            do throws(SuiteError) {
                let suite = try load(name)
                let count = suite.caseCount
                let scenarios = suite.scenarioNames.joined(separator: ", ")
                return (name, "\(count) case\(count == 1 ? "" : "s") (\(scenarios)): \(suite.description)")
            } catch {
                return (name, "unreadable: \(error.message)")
            }
        }
    }
}
