import Foundation
import Testing
import TestSupport

/// A child memory cgroup with a limit, made for one test and removed afterwards: cgroup v2
/// (memory.max, where the memory controller is enabled) or else the v1 memory hierarchy
/// (memory.limit_in_bytes), under this process's own cgroup.
private struct LimitedCgroup {
    let directory: String
    let limitFile: String

    /// Why no child memory cgroup can be made here, or nil when one can.
    static let unavailable: String? = {
        do {
            let probe = try LimitedCgroup(limit: 64 << 20)
            probe.remove()
            return nil
        } catch { return "\(error)" }
    }()

    struct Unusable: Error, CustomStringConvertible { var description: String }

    init(limit: UInt64) throws {
        guard getuid() == 0 else { throw Unusable(description: "needs root to create a memory cgroup") }
        let cgroups = (try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)) ?? ""
        let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        func mount(type: String, option: String?) -> String? {
            for line in mounts.split(separator: "\n") {
                let halves = line.components(separatedBy: " - ")
                guard halves.count == 2 else { continue }
                let left = halves[0].split(separator: " "), right = halves[1].split(separator: " ")
                guard left.count >= 5, right.count >= 3, right[0] == type, left[3] == "/" else { continue }
                if let option, !right[2].split(separator: ",").contains(Substring(option)) { continue }
                return String(left[4])
            }
            return nil
        }
        var candidates: [(parent: String, limitFile: String)] = []
        for line in cgroups.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let path = fields[2] == "/" ? "" : String(fields[2])
            if fields[0] == "0", fields[1].isEmpty, let root = mount(type: "cgroup2", option: nil),
               ((try? String(contentsOfFile: root + path + "/cgroup.subtree_control", encoding: .utf8)) ?? "").contains("memory") {
                candidates.append((root + path, "memory.max"))
            } else if fields[1].split(separator: ",").contains("memory"), let root = mount(type: "cgroup", option: "memory") {
                candidates.append((root + path, "memory.limit_in_bytes"))
            }
        }
        guard let chosen = candidates.first else {
            throw Unusable(description: "no cgroup v2 with the memory controller enabled in cgroup.subtree_control, and no cgroup v1 memory hierarchy")
        }
        directory = chosen.parent + "/kvmbench-test-\(UUID().uuidString.prefix(8))"
        limitFile = chosen.limitFile
        guard mkdir(directory, 0o755) == 0 else {
            throw Unusable(description: "cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        do {
            try "\(limit)\n".write(toFile: directory + "/" + limitFile, atomically: false, encoding: .utf8)
            // No swapping around the limit: past it the OOM killer acts (v2 only; v1 has no separate knob that allows less).
            if limitFile == "memory.max" { try? "0\n".write(toFile: directory + "/memory.swap.max", atomically: false, encoding: .utf8) }
        } catch {
            rmdir(directory)
            throw Unusable(description: "cannot set \(directory)/\(limitFile)")
        }
    }

    /// Removes the cgroup (its processes have exited by then).
    func remove() {
        for _ in 0..<50 {
            if rmdir(directory) == 0 || errno == ENOENT { return }
            usleep(100_000)
        }
    }
}

@Suite("command line: memory the host cannot give", .serialized,
       .enabled(if: CLI.kvmUsable, "needs /dev/kvm (readable and writable): skipped"),
       .enabled(if: Unavailable.none(LimitedCgroup.unavailable, for: "memory the host cannot give"),
                "needs root and a memory cgroup this process can create a child in: skipped"))
struct MemoryLimitTests {
    @Test func aGuestLargerThanTheCgroupLimitFailsWithTheReasonAndTheNextCaseRuns() throws {
        let cgroup = try LimitedCgroup(limit: 96 << 20)
        defer { cgroup.remove() }
        // The shell moves itself into the cgroup, then becomes kvmbench: every page of the run is charged there.
        let outcome = try CLI.launch(URL(fileURLWithPath: "/bin/sh"), [
            "-c", "echo $$ > \"$1/cgroup.procs\" && exec \"$0\" run demand-paging --vcpus 1 --mem-per-vcpu 256M,4M --repetitions 1 --warmups 0 --json",
            CLI.executable.path, cgroup.directory,
        ])
        #expect(outcome.status == 3, "status \(outcome.status) (3: a case failed): \(outcome.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any], "\(outcome.stderr)")
        let cases = try #require(json["cases"] as? [[String: Any]])
        #expect(cases.count == 2)
        #expect(cases.first?["status"] as? String == "failed")
        let reason = cases.first?["reason"] as? String ?? ""
        #expect(reason.contains(" MiB of memory, but"), "\(reason)")
        #expect(reason.contains("the memory cgroup \(cgroup.directory) allows only"), "\(reason)")
        #expect(reason.contains("\(cgroup.limitFile) 96 MiB"), "\(reason)")
        #expect(cases.last?["status"] as? String == "ok", "\(cases.last ?? [:])")
        #expect((cases.last?["parameters"] as? [String: String])?["mem_per_vcpu"] == "4M")
    }
}
