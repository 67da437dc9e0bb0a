import Backings
import Foundation
import Scenarios
import Testing

private let gib: UInt64 = 1 << 30

private func host(memAvailable: UInt64? = 16 * gib, free2m: Int? = 0, writable: Bool = true,
                  files: (UInt64, UInt64) = (1024, 4096)) -> PreflightHost {
    PreflightHost(memAvailable: memAvailable, hugepagesAvailable: [.size2m: free2m, .size1g: 0].compactMapValues { $0 },
                  hugepagesWritable: [.size2m: writable, .size1g: writable], fileLimit: files)
}

private func demand(_ label: String = "case 1", vcpus: Int = 2, size: UInt64 = gib, backing: BackingKind = .anonymous4k,
                    reserve: Bool = false) -> PreflightDemand {
    PreflightDemand(label: label, vcpus: vcpus, testSize: size, backing: backing, reserveHugepages: reserve)
}

@Suite("pre-flight checks")
struct PreflightTests {
    @Test func theLargestCaseIsCheckedAgainstMemAvailableNotTheSum() {
        let cases = (1...4).map { demand("case \($0)", size: 4 * gib) }
        #expect(Preflight.check(cases, host: host(memAvailable: 8 * gib)).isEmpty) // 4 x 4 GiB run one at a time
        let findings = Preflight.check(cases + [demand("case 5", size: 10 * gib)], host: host(memAvailable: 8 * gib))
        #expect(findings.count == 1)
        #expect(findings.first?.severity == .refusal)
        // 10 GiB + 40 MiB of page tables + 64 MiB, against 8 GiB.
        #expect(findings.first?.message == "case 5 needs about 10344 MiB of memory (guest 10 GiB plus page tables and kvmbench) and the host has 8 GiB available (MemAvailable): short by 2152 MiB; lower --vcpus or --mem-per-vcpu")
    }

    @Test func aShortHugepagePoolIsANoticeWithoutReservationAndChecksMemAvailableWithIt() {
        let hugetlb = demand(size: 256 << 20, backing: .hugetlb2m) // 128 pages of 2 MiB
        let notice = Preflight.check([hugetlb], host: host(free2m: 28))
        #expect(notice == [PreflightFinding(.notice, "case 1 needs 128 free 2M hugepages and the pool has 28 (short by 100): it will be unsupported unless you add --reserve-hugepages")])

        let reserving = demand(size: 256 << 20, backing: .hugetlb2m, reserve: true)
        #expect(Preflight.check([reserving], host: host(free2m: 28)).isEmpty)
        // 64 MiB of MemAvailable beyond kvmbench's own 64 MiB: 32 pages reservable, 100 missing.
        let short = Preflight.check([reserving], host: host(memAvailable: 128 << 20, free2m: 28))
        #expect(short.first?.severity == .refusal)
        #expect(short.first?.message.contains("reserve at most 32 more: short by 68 pages (136 MiB)") == true)
        let readOnly = Preflight.check([reserving], host: host(free2m: 28, writable: false))
        #expect(readOnly.first?.severity == .refusal)
        #expect(readOnly.first?.message.contains("needs 100 more 2M hugepages than the pool has free (28 of 128)") == true)
        // Pool pages are not part of MemAvailable: a full pool is enough whatever MemAvailable says.
        #expect(Preflight.check([reserving], host: host(memAvailable: 128 << 20, free2m: 128)).isEmpty)
    }

    @Test func openFilesAreTwoPerVCPUAndOnlyAShortHardLimitRefuses() {
        let wide = demand(vcpus: 1000, size: 1000 * 4096)
        #expect(wide.openFiles == Preflight.baseFiles + 2 + 2000)
        let raise = Preflight.check([wide], host: host(files: (1024, 1 << 20)))
        #expect(raise.first?.severity == .notice)
        #expect(raise.first?.message.contains("kvmbench raises it to 2034") == true)
        let refuse = Preflight.check([wide], host: host(files: (1024, 1024)))
        #expect(refuse.first?.severity == .refusal)
        #expect(refuse.first?.message.contains("RLIMIT_NOFILE allows 1024 (hard limit): short by 1010") == true)
        let shmem = demand(vcpus: 1, size: 4096, backing: .shmem)
        #expect(shmem.openFiles == Preflight.baseFiles + 2 + 2 + 1) // the memfd
    }

    @Test func theKVMDeviceMustBeACharacterDeviceWeCanOpen() throws {
        #expect(Preflight.deviceProblem("/nonexistent/kvm")?.contains("does not exist") == true)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("kvmbench-preflight-\(getpid())")
        try Data().write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        #expect(Preflight.deviceProblem(file.path) == "\(file.path) is not a character device")
        if access("/dev/kvm", R_OK | W_OK) == 0 { #expect(Preflight.deviceProblem("/dev/kvm") == nil) }
    }

    @Test func anOutputPathNeedsAnExistingWritableDirectory() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("kvmbench-out-\(getpid())")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: base) }
        #expect(Preflight.outputProblem(base.appendingPathComponent("r.json").path) == nil)
        let missing = base.appendingPathComponent("no/such/dir/r.json").path
        #expect(Preflight.outputProblem(missing)?.contains("does not exist; create it first") == true)
        #expect(!FileManager.default.fileExists(atPath: base.appendingPathComponent("no").path))
        #expect(Preflight.outputProblem(base.path)?.contains("is a directory") == true)
        let file = base.appendingPathComponent("plain")
        try Data().write(to: file)
        #expect(Preflight.outputProblem(file.appendingPathComponent("r.json").path)?.contains("is not a directory") == true)
    }

    @Test func demandsComeFromTheRecordedParameters() throws {
        let scenario = try DemandPagingScenario(parameters: ParameterSet(["vcpus": "4", "mem_per_vcpu": "2M", "backing": "hugetlb-2m",
                                                                          "reserve_hugepages": "true", "uffd": "missing"]),
                                                limits: HostLimits(maxVCPUs: 1024, memslots: 32764, memAvailable: nil))
        let found = try #require(scenario.preflightDemand(number: 3, given: ["reserve_hugepages": "true"]))
        #expect(found.vcpus == 4)
        #expect(found.testSize == 8 << 20)
        #expect(found.backing == .hugetlb2m)
        #expect(found.reserveHugepages)
        // One userfaultfd per vCPU region, an epoll fd per reader, and the readers' stop eventfd.
        #expect(found.extraFiles == 4 * (1 + 1) + 1)
        #expect(found.label == "case 3 (demand-paging vcpus=4 mem_per_vcpu=2M backing=hugetlb-2m)")
    }
}
