import Foundation
import Testing

/// `--order` and `--order-seed`: a plan's repetitions interleaved in a recorded, repeatable order.
@Suite("command line: the order of the repetitions", .serialized)
struct RunOrderCLITests {
    struct Document: Decodable {
        struct Order: Decodable { var kind: String; var seed: UInt64? }
        struct Case: Decodable {
            struct Metric: Decodable { var name: String; var samples: [Double] }
            var parameters: [String: String]
            var status: String
            var metrics: [Metric]
            var measuring_cpus: [[Int]]?
        }
        var order: Order?
        var cases: [Case]
    }

    @Test("an interleaved run records its order and seed, keeps the cases in plan order, and every repetition's CPU",
          .enabled(if: CLI.kvmUsable, "needs a usable /dev/kvm"))
    func interleavedRun() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvmbench-order-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("r.json")
        let outcome = try CLI.run(["run", "demand-paging", "--vcpus", "1,2", "--mem-per-vcpu", "8M", "--repetitions", "3",
                                   "--warmups", "1", "--order-seed", "7", "-o", file.path], environment: ["CI": "true"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let document = try JSONDecoder().decode(Document.self, from: Data(contentsOf: file))
        #expect(document.order?.kind == "interleaved" && document.order?.seed == 7)
        #expect(document.cases.map { $0.parameters["vcpus"] } == ["1", "2"], "plan order whatever the run order")
        for item in document.cases {
            #expect(item.status == "ok")
            #expect(item.metrics.first { $0.name == "first_touch_time" }?.samples.count == 3)
            #expect(item.measuring_cpus?.count == 3 && item.measuring_cpus?.allSatisfy { $0.count == 2 && $0.allSatisfy { $0 >= 0 } } == true,
                    "\(String(describing: item.measuring_cpus))")
        }
        // The plain progress (not a terminal) names the order, and each round after the first once.
        #expect(outcome.stderr.contains("order interleaved (seed 7)"), "\(outcome.stderr)")
        #expect(outcome.stderr.contains("round 2/3") && outcome.stderr.contains("round 3/3"), "\(outcome.stderr)")
    }

    @Test("a sequential run records its order without a seed", .enabled(if: CLI.kvmUsable, "needs a usable /dev/kvm"))
    func sequentialRun() throws {
        let outcome = try CLI.run(["run", "demand-paging", "--mem-per-vcpu", "8M", "--repetitions", "2", "--warmups", "0",
                                   "--order", "sequential", "--json", "-q"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let document = try JSONDecoder().decode(Document.self, from: Data(outcome.stdout.utf8))
        #expect(document.order?.kind == "sequential" && document.order?.seed == nil)
        // Plain progress (not a terminal): one line per case, not one per repetition.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("kvmbench-order-seq-\(getpid()).json")
        defer { try? FileManager.default.removeItem(at: file) }
        let plain = try CLI.run(["run", "demand-paging", "--vcpus", "1,2", "--mem-per-vcpu", "8M", "--repetitions", "3", "--warmups", "1",
                                 "--order", "sequential", "-o", file.path], environment: ["CI": "true"])
        #expect(plain.status == 0, "\(plain.stderr)")
        let lines = plain.stderr.split(separator: "\n")
        #expect(lines.filter { $0.contains("case 1/2") }.count == 1 && lines.filter { $0.contains("case 2/2") }.count == 1, "\(plain.stderr)")
        #expect(!plain.stderr.contains("round "), "\(plain.stderr)")
    }

    @Test("bad orders are one line and exit 64 before any guest", arguments: [
        (["--order", "random"], "not an order; use interleaved or sequential"),
        (["--order", "sequential", "--order-seed", "3"], "a seed orders interleaved repetitions only"),
        (["--order-seed", "4294967296"], "--order-seed must be a whole number within 0...4294967295"),
    ])
    func badOrders(flags: [String], phrase: String) throws {
        let outcome = try CLI.run(["run", "demand-paging", "--mem-per-vcpu", "8M"] + flags, environment: ["KVMBENCH_DEVICE": "/nonexistent/kvm"])
        #expect(outcome.status == 64, "\(outcome.stderr)")
        #expect(outcome.stderr.contains(phrase), "\(outcome.stderr)")
        #expect(outcome.stderr.split(separator: "\n").count == 1, "\(outcome.stderr)")
    }
}
