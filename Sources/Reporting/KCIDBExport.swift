import Foundation
import Results

/// KernelCI's KCIDB I/O document (schema v5): one checkout (the kernel that ran), one build (its
/// architecture and the host), and one test per case and gated metric. A test's `path` is
/// `kvmbench.<scenario>.<metric>`, its `status` the gate's verdict (FAIL for a regression, a failed
/// case, or a case or gated metric of the baseline missing or newly unsupported in the result;
/// PASS for a decided non-regression; DONE, "finished, the status of the tested code unknown",
/// for a plain measurement and for a metric the comparison could not decide; SKIP for a case
/// with nothing to judge: unsupported on both sides or not in the baseline), its `number` the
/// median in the metric's unit. The case's parameters
/// and the figure's interval travel in `misc`.
public enum KCIDBExport {
    /// The identifier KCIDB requires before every id: `kvmbench:...`.
    public static let origin = "kvmbench"

    public static func render(_ figures: [FleetFigure], host: HostFingerprint, tool: ToolInfo,
                              startedAt: Date, kernelCommit: String? = nil) throws -> Data {
        let time = ISO8601DateFormatter().string(from: startedAt)
        let runID = "\(engineName(host.hostname))-\(Int(startedAt.timeIntervalSince1970))"
        let checkoutID = "\(origin):checkout-\(engineName(host.kernelRelease))-\(runID)"
        let buildID = "\(origin):build-\(engineName(host.kernelRelease))-\(runID)"
        var checkoutMisc = ["kernel_release": host.kernelRelease]
        if let kernelCommit { checkoutMisc["kernel_commit"] = kernelCommit }
        let commitHash = kernelCommit.flatMap { $0.count == 40 && $0.allSatisfy(\.isHexDigit) ? $0.lowercased() : nil }
        let checkout = Checkout(id: checkoutID, origin: origin, start_time: time, git_commit_hash: commitHash,
                                comment: "kernel \(host.kernelRelease)", misc: checkoutMisc)
        let build = Build(id: buildID, checkout_id: checkoutID, origin: origin, start_time: time,
                          architecture: "x86_64", comment: "host \(host.hostname), \(host.kvmModule)",
                          status: "PASS",
                          misc: ["kvm_module": host.kvmModule, "cpu_model": host.cpuModel, "hostname": host.hostname])
        var seen: [String: Int] = [:]
        let tests = figures.map { figure -> Test in
            let metricPart = figure.metric.map { "." + engineName($0) } ?? ""
            let base = "\(origin):\(runID):\(figure.caseKey)\(figure.metric.map { ":" + $0 } ?? "")"
            seen[base, default: 0] += 1
            let id = seen[base]! == 1 ? base : "\(base)#\(seen[base]!)"
            var misc = figure.parameters
            misc["case"] = figure.caseKey
            if let low = figure.low { misc["interval_low"] = "\(low)" }
            if let high = figure.high { misc["interval_high"] = "\(high)" }
            misc["kvmbench_version"] = tool.version
            let number = figure.value.flatMap { value in value.isFinite ? Number(value: value, unit: figure.unit.flatMap { $0 == .count ? nil : $0.symbol }) : nil }
            return Test(id: id, build_id: buildID, origin: origin,
                        path: "kvmbench.\(engineName(figure.scenario, keepingDots: false))\(metricPart)",
                        status: status(figure.outcome), number: number, start_time: time,
                        comment: figure.message, environment: Environment(comment: "\(host.hostname): \(host.cpuModel), \(host.onlineCPUs) CPUs"),
                        misc: misc)
        }
        let document = Document(version: Version(major: 5, minor: 3), checkouts: [checkout], builds: [build], tests: tests)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(document)
    }

    static func status(_ outcome: FigureOutcome) -> String {
        switch outcome {
        case .failed: "FAIL"
        case .passed: "PASS"
        case .measured, .inconclusive: "DONE"
        case .skipped: "SKIP"
        }
    }

    // The I/O schema's own field names, so the encoder needs no key mapping.
    struct Document: Encodable { var version: Version; var checkouts: [Checkout]; var builds: [Build]; var tests: [Test] }
    struct Version: Encodable { var major: Int; var minor: Int }
    struct Checkout: Encodable {
        var id: String; var origin: String; var start_time: String; var git_commit_hash: String?
        var comment: String; var misc: [String: String]
    }
    struct Build: Encodable {
        var id: String; var checkout_id: String; var origin: String; var start_time: String
        var architecture: String; var comment: String; var status: String; var misc: [String: String]
    }
    struct Test: Encodable {
        var id: String; var build_id: String; var origin: String; var path: String; var status: String
        var number: Number?; var start_time: String; var comment: String; var environment: Environment
        var misc: [String: String]
    }
    struct Number: Encodable { var value: Double; var unit: String? }
    struct Environment: Encodable { var comment: String }
}
