import Foundation
import Testing

/// A real PostgreSQL server from Debian's package, on loopback in a temporary folder, for one
/// test: initdb and pg_ctl (as the `postgres` user when the tests run as root, which initdb
/// refuses), a free port, trust authentication for the one user `kvmbench`. `stop()` ends it and
/// removes the folder; callers `defer` it.
final class PostgresServer {
    let folder: URL
    let port: Int
    private let binaries: URL
    private let runAs: String?

    var data: URL { folder.appendingPathComponent("data") }
    func url(database: String = "postgres") -> String { "postgres://kvmbench@127.0.0.1:\(port)/\(database)" }

    /// The folder of initdb and pg_ctl: Debian's /usr/lib/postgresql/<version>/bin, newest first.
    static var binaryFolder: URL? {
        let root = URL(fileURLWithPath: "/usr/lib/postgresql")
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? [])
            .compactMap(Int.init).sorted(by: >)
        return versions.map { root.appendingPathComponent("\($0)/bin") }
            .first { FileManager.default.isExecutableFile(atPath: $0.appendingPathComponent("pg_ctl").path) }
    }

    /// Starts a server, or cancels the test (a skip, with the reason) where PostgreSQL cannot start.
    static func start() throws -> PostgresServer {
        guard let binaries = binaryFolder else {
            try Test.cancel("PostgreSQL is not installed (scripts/install-deps --tests installs Debian's postgresql): skipped")
        }
        let runAs: String? = geteuid() == 0 ? "postgres" : nil
        let folder = URL(fileURLWithPath: "/tmp/kvmbench-pg-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        if let runAs { try FileManager.default.setAttributes([.ownerAccountName: runAs], ofItemAtPath: folder.path) }
        let server = PostgresServer(folder: folder, port: try freePort(), binaries: binaries, runAs: runAs)
        do {
            try server.command("initdb", ["-D", server.data.path, "-U", "kvmbench", "-A", "trust", "-E", "UTF8",
                                          "--locale=C", "--no-sync"])
            try server.command("pg_ctl", ["-D", server.data.path, "-l", folder.appendingPathComponent("server.log").path, "-w",
                                          "-o", "-p \(server.port) -k \(folder.path) -c listen_addresses=127.0.0.1 -c fsync=off",
                                          "start"])
        } catch {
            server.stop()
            try Test.cancel("PostgreSQL could not start here (\(error)): skipped")
        }
        return server
    }

    private init(folder: URL, port: Int, binaries: URL, runAs: String?) {
        self.folder = folder; self.port = port; self.binaries = binaries; self.runAs = runAs
    }

    /// Runs one of the server's programs (as `runAs` when set) to completion; throws its output on
    /// failure. Through python3's subprocess, which closes every inherited descriptor (close_fds):
    /// Foundation's Process sees its child end when a socket the child inherits closes, and the
    /// server pg_ctl leaves running would hold that socket (and any output pipe) open for ever.
    /// Output goes to a file for the same reason.
    @discardableResult
    func command(_ name: String, _ arguments: [String]) throws -> String {
        let program = binaries.appendingPathComponent(name)
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("kvmbench-pg-\(UUID().uuidString).out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }
        let handle = try FileHandle(forWritingTo: output)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let command = (runAs.map { ["/usr/sbin/runuser", "-u", $0, "--"] } ?? []) + [program.path] + arguments
        process.arguments = ["python3", "-c", "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:], close_fds=True).returncode)"] + command
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        try handle.close()
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw ServerError(text: "\(name) exited \(process.terminationStatus): \(text)".trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return text
    }

    func stop() {
        if FileManager.default.fileExists(atPath: data.appendingPathComponent("postmaster.pid").path) {
            _ = try? command("pg_ctl", ["-D", data.path, "-m", "immediate", "-w", "stop"])
        }
        try? FileManager.default.removeItem(at: folder)
    }

    struct ServerError: Error, CustomStringConvertible { var text: String; var description: String { text } }

    /// A TCP port nothing listens on now (bound to port 0, then released).
    static func freePort() throws -> Int {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
        }
        guard bound else { throw ServerError(text: "cannot find a free port: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// The fleet history: hosts writing one PostgreSQL history at once, read back across hosts.
@Suite("command line: shared history on PostgreSQL")
struct PostgresHistoryTests {
    static let nightly = HistoryCLITests.nightly
    static let historyKernel = "6.1.0-fleet-history"
    static let candidateKernel = "6.2.0-fleet-candidate"

    /// Night `night` of `host`, from the committed real nightly's first case: start moved on a
    /// day a night, every value scaled by a fixed ±1.5% wobble, and the first gated metric of the
    /// first case scaled by `step`. `cpus` sets online_cpus (another value is another host class).
    static func night(_ night: Int, host: String, cpus: Int, kernel: String, step: Double, into folder: URL) throws -> (URL, String) {
        let wobble = [1.0, 1.012, 0.991, 1.004, 0.985, 1.015, 0.996, 1.008, 0.989, 1.013]
        var document = try DoctoredNightly.night(night, of: Data(contentsOf: nightly))
        var hostObject = document["host"] as! [String: Any]
        hostObject["hostname"] = host
        hostObject["kernel_release"] = kernel
        hostObject["online_cpus"] = cpus
        document["host"] = hostObject
        var cases = Array((document["cases"] as! [[String: Any]]).prefix(1))
        let stepped = DoctoredNightly.scale(&cases, by: wobble[(night + host.count) % wobble.count], firstGatedBy: step)
        document["cases"] = cases
        let file = folder.appendingPathComponent("\(host)-night-\(night).json")
        try JSONSerialization.data(withJSONObject: document).write(to: file)
        return (file, stepped)
    }

    static func json(_ outcome: CLI.Outcome) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8))
    }

    /// Three processes, each posing as a host (lab-a1 and lab-a2 of one class, lab-b1 of another:
    /// it has one CPU more), import 4 nights on the old kernel and 1 on the candidate into one fresh
    /// PostgreSQL history at once; lab-a2's candidate night has the first gated metric doubled.
    /// (One case and five nights a host keep the debug build's comparisons quick.)
    @Test func threeHostsWriteAtOnceAndTheFleetViewFindsTheRegression() throws {
        let server = try PostgresServer.start()
        defer { server.stop() }
        let folder = server.folder.appendingPathComponent("documents")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let hosts = [("lab-a1", 2), ("lab-a2", 2), ("lab-b1", 3)]
        var files: [String: [String]] = [:]
        var metric = ""
        for (host, cpus) in hosts {
            for night in 0..<5 {
                let candidate = night >= 4
                let (file, stepped) = try Self.night(night, host: host, cpus: cpus, kernel: candidate ? Self.candidateKernel : Self.historyKernel,
                                                     step: candidate && host == "lab-a2" ? 2.0 : 1.0, into: folder)
                files[host, default: []].append(file.path)
                metric = stepped
            }
        }
        let url = server.url()

        // At once: three writers on a server whose schema does not exist yet.
        let writers = try hosts.map { entry -> (Process, Pipe, Pipe) in
            let host = entry.0
            let process = Process()
            process.executableURL = CLI.executable
            process.arguments = ["history", "import", "--json", "--accept", "lab nights", "--history", url] + files[host]!
            let out = Pipe(), err = Pipe()
            process.standardOutput = out
            process.standardError = err
            try process.run()
            return (process, out, err)
        }
        for (process, out, err) in writers {
            let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "\(stderr)")
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [[String: Any]])
            #expect(rows.count == 5 && rows.allSatisfy { $0["imported"] as? Bool == true }, "\(stdout)")
        }

        // A retried writer records nothing twice.
        let retry = try CLI.run(["history", "import", "--history", url] + files["lab-a1"]!)
        #expect(retry.status == 0 && retry.stdout.contains("0 of 5 imported"), "\(retry.stdout)\(retry.stderr)")

        // Read back across hosts: all three, five runs each, each start once per host.
        let list = try CLI.run(["history", "list", "--json"], environment: ["KVMBENCH_HISTORY": url])
        #expect(list.status == 0, "\(list.stderr)")
        let runs = try #require(try Self.json(list) as? [[String: Any]])
        #expect(runs.count == 15)
        let hostKeys = runs.map { $0["host_key"] as! String }
        for (host, _) in hosts { #expect(hostKeys.filter { $0.hasPrefix(host + "-") }.count == 5, "\(host): \(hostKeys)") }
        #expect(Set(runs.map { "\($0["started_at"]!) \($0["host_key"]!)" }).count == 15)
        #expect(runs.allSatisfy { $0["cases"] as? Int == 1 })
        #expect(runs.allSatisfy { ($0["host"] as? [String: Any])?["hostname"] as? String != nil }, "every run carries its fingerprint")
        let table = try CLI.run(["history", "list", "--history", url])
        for (host, _) in hosts { #expect(table.stdout.contains("host \(host)-"), "\(table.stdout)") }
        let onlyB = try #require(try Self.json(try CLI.run(["history", "list", "--json", "--host", "lab-b1", "--history", url])) as? [[String: Any]])
        #expect(onlyB.count == 5 && onlyB.allSatisfy { ($0["host_key"] as! String).hasPrefix("lab-b1-") })
        let points = try #require(try Self.json(try CLI.run(["history", "show", metric, "--json", "--host", "lab-a2", "--history", url])) as? [[String: Any]])
        #expect(points.count == 5 && points.allSatisfy { ($0["host_key"] as! String).hasPrefix("lab-a2-") })
        let changes = try CLI.run(["history", "changes", "--json", "--host", "lab-b1", "--history", url])
        #expect(changes.status == 0, "\(changes.stderr)")

        // The fleet view: class A regressed on one of its two hosts, class B did not.
        let html = server.folder.appendingPathComponent("fleet.html")
        let fleet = try CLI.run(["history", "fleet", "--json", "--html", html.path, "--history", url])
        #expect(fleet.status == 2, "class A regressed: \(fleet.stderr)")
        let view = try #require(try Self.json(fleet) as? [String: Any])
        #expect(view["kernel"] as? String == Self.candidateKernel)
        let classes = try #require(view["classes"] as? [[String: Any]])
        #expect(classes.count == 2)
        let classA = try #require(classes.first { ($0["hosts"] as! [String]).contains { $0.hasPrefix("lab-a1-") } })
        let classB = try #require(classes.first { ($0["hosts"] as! [String]).contains { $0.hasPrefix("lab-b1-") } })
        #expect((classA["hosts"] as! [String]).count == 2 && (classB["hosts"] as! [String]).count == 1)
        #expect((classA["history_runs"] as! [Any]).count == 8 && (classB["history_runs"] as! [Any]).count == 4)
        let regressedA = (classA["metrics"] as! [[String: Any]]).filter { !($0["regressed"] as! [String]).isEmpty }
        #expect(regressedA.count == 1, "\(regressedA)")
        #expect(regressedA.first?["metric"] as? String == metric)
        #expect((regressedA.first?["regressed"] as? [String])?.count == 1)
        #expect((regressedA.first?["regressed"] as? [String])?.first?.hasPrefix("lab-a2-") == true)
        #expect(regressedA.first?["hosts_compared"] as? Int == 2)
        let regressedB = (classB["metrics"] as! [[String: Any]]).filter { !($0["regressed"] as! [String]).isEmpty }
        #expect(regressedB.isEmpty, "\(regressedB)")
        let text = try CLI.run(["history", "fleet", "--history", url])
        #expect(text.stdout.contains("candidate kernel \(Self.candidateKernel): 2 host classes"), "\(text.stdout)")
        #expect(text.stdout.contains("1 of 2") && text.stdout.contains("regressed on"), "\(text.stdout)")
        let page = try String(contentsOf: html, encoding: .utf8)
        #expect(page.components(separatedBy: "class=\"fleet-class\"").count - 1 == 2)
        #expect(page.contains("data-chart=\"trend\"") && page.contains("lab-a2-") && page.contains("class=\"candidate\""))
    }

    /// A SQLite history copied into a fresh PostgreSQL database holds the same runs and series;
    /// migrating again copies nothing; the server records the schema version.
    @Test func migrateCopiesASQLiteHistoryOnce() throws {
        let server = try PostgresServer.start()
        defer { server.stop() }
        let sqlite = server.folder.appendingPathComponent("history.sqlite").path
        var files: [String] = []
        var metric = ""
        for night in 0..<4 {
            let (file, stepped) = try Self.night(night, host: "lab-m1", cpus: 2, kernel: Self.historyKernel, step: 1, into: server.folder)
            files.append(file.path)
            metric = stepped
        }
        #expect(try CLI.run(["history", "import", "--history", sqlite] + files).status == 0)
        try server.command("createdb", ["-h", "127.0.0.1", "-p", "\(server.port)", "-U", "kvmbench", "migrated"])
        let url = server.url(database: "migrated")
        let migrate = try CLI.run(["history", "migrate", "--to", url, "--history", sqlite])
        #expect(migrate.status == 0 && migrate.stdout.contains("4 runs copied"), "\(migrate.stdout)\(migrate.stderr)")
        let again = try CLI.run(["history", "migrate", "--to", url, "--json", "--history", sqlite])
        let counts = try #require(try Self.json(again) as? [String: Int])
        #expect(counts == ["copied": 0, "already_present": 4])

        func strip(_ runs: [[String: Any]]) -> [String] {
            runs.map { "\($0["started_at"]!) \($0["host_key"]!) \($0["cases"]!) \($0["accepted"]!) \($0["source_path"]!)" }
        }
        let before = try #require(try Self.json(try CLI.run(["history", "list", "--json", "--history", sqlite])) as? [[String: Any]])
        let after = try #require(try Self.json(try CLI.run(["history", "list", "--json", "--history", url])) as? [[String: Any]])
        #expect(strip(before) == strip(after))
        func values(_ location: String) throws -> [String] {
            let points = try #require(try Self.json(try CLI.run(["history", "show", metric, "--json", "--history", location])) as? [[String: Any]])
            return points.map { "\($0["case"]!) \($0["median"]!) \($0["samples"]!)" }
        }
        #expect(try values(sqlite) == values(url))
        let versions = try server.command("psql", ["-h", "127.0.0.1", "-p", "\(server.port)", "-U", "kvmbench", "-d", "migrated",
                                                   "-Atc", "SELECT version FROM kvmbench_schema"])
        #expect(versions.trimmingCharacters(in: .whitespacesAndNewlines) == "v1\nv2")
    }

    @Test func anUnreachableServerIsOneLine() throws {
        let port = try PostgresServer.freePort()
        let outcome = try CLI.run(["history", "list", "--history", "postgres://kvmbench:secret@127.0.0.1:\(port)/none"])
        #expect(outcome.status == 1)
        #expect(outcome.stderr.contains("cannot connect to postgres://kvmbench:***@127.0.0.1:\(port)/none"), "\(outcome.stderr)")
        #expect(!outcome.stderr.contains("secret"))
        #expect(outcome.stderr.split(separator: "\n").count == 1, "\(outcome.stderr)")
    }
}
