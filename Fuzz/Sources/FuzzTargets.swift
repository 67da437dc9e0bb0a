import Foundation
import Host
import Results
import Scenarios
import Suites

/// One fuzz target: a parser of outside input fed arbitrary bytes. A target only has to survive
/// (no trap, no hang); where a parser promises more (a round trip), the target checks it and
/// traps when it fails, which libFuzzer reports as a crash with the input.
struct FuzzTarget: Sendable {
    let name: String
    let summary: String
    let run: @Sendable ([UInt8]) -> Void
}

enum FuzzTargets {
    static let all: [FuzzTarget] = [
        FuzzTarget(name: "suite-file", summary: "suite files (YAML): SuiteParser.parse") { bytes in
            _ = try? SuiteParser.parse(String(decoding: bytes, as: UTF8.self), file: "fuzz.yaml")
        },
        FuzzTarget(name: "result-document", summary: "result and baseline documents: DocumentLoader.decode (JSONSyntaxCheck, schema version, JSONDecoder)") { bytes in
            _ = try? DocumentLoader.decode(Data(bytes), path: "fuzz.json")
            _ = JSONSyntaxCheck.firstProblem(in: bytes)
        },
        FuzzTarget(name: "size", summary: "sizes (--mem-per-vcpu, suite sizes): parseSize, and formatSize round trip") { bytes in
            let text = String(decoding: bytes, as: UTF8.self)
            guard let size = parseSize(text) else { return }
            // What formatSize writes, parseSize reads back to the same bytes.
            precondition(parseSize(formatSize(size)) == size, "formatSize(\(size)) = \(formatSize(size)) does not parse back")
        },
        FuzzTarget(name: "duration", summary: "durations (--duration, --uffd-delay): parseDuration, and formatDuration round trip") { bytes in
            let text = String(decoding: bytes, as: UTF8.self)
            for plain in [1.0, 1_000, 1_000_000_000] {
                // Round trips are exact up to 2^53 ns (104 days), where a Double still holds every whole number.
                guard let nanos = parseDuration(text, plainUnit: plain), nanos < 1 << 53 else { continue }
                precondition(parseDuration(formatDuration(nanos)) == nanos, "formatDuration(\(nanos)) = \(formatDuration(nanos)) does not parse back")
            }
        },
        FuzzTarget(name: "cpu-list", summary: "CPU lists (--pin 0-3,8): CPUList.parse, and CPUList.format round trip") { bytes in
            guard let cpus = CPUList.parse(String(decoding: bytes, as: UTF8.self)) else { return }
            let compact = CPUList.format(cpus)
            if !cpus.isEmpty { precondition(CPUList.parse(compact).map { Set($0) } == Set(cpus), "CPUList.format(\(cpus)) = \(compact) does not parse back") }
        },
        FuzzTarget(name: "placement", summary: "placements (--pin none|auto|LIST): PinPolicy, Placement.validate and Placement.plan on a 2x2 host") { bytes in
            guard let first = bytes.first else { return }
            guard let policy = PinPolicy(parsing: String(decoding: bytes.dropFirst(), as: UTF8.self)) else { return }
            let vcpus = Int(first % 9) // 0 (refused) to 8 vCPUs on 4 CPUs
            let online = [0, 1, 2, 3], allowed = first & 0x80 != 0 ? [0, 1, 2] : online
            guard vcpus > 0, (try? Placement.validate(policy, vcpus: vcpus, online: online, allowed: allowed)) != nil else { return }
            if let plan = Placement.plan(policy, vcpus: vcpus, coreCPUs: [[0, 1], [2, 3]], allowed: allowed) {
                precondition(plan.vcpuCPUs.count == vcpus, "a plan for \(vcpus) vCPUs places \(plan.vcpuCPUs.count)")
            }
        },
    ]

    static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }
}
