import Harness
import Backings
import Foundation
import GuestPrograms
import Host
import KVM
import Results

/// Access tracking (the kernel selftests' access_tracking_perf_test): the host ages guest memory
/// through KVM's MMU notifier (clear_young: kvm_age_gfn, which clears the Accessed bit of KVM's
/// SPTEs), and the vCPUs write and read memory that was marked idle.
///
/// Phases, as the selftest has them, each timed per vCPU and overall: populate (first write of
/// every page), write populated, read populated, mark idle (an aging pass: the "aging time"),
/// write idle, read idle. The aging needs a host mechanism that reaches the notifier, in this
/// order: MGLRU (/sys/kernel/mm/lru_gen), idle page tracking (/sys/kernel/mm/page_idle/bitmap),
/// DAMON virtual-address monitoring. kvmbench drives MGLRU as the selftest does since 6.16 (its
/// lru_gen_util): the guest memory is charged to a memory cgroup of kvmbench's own, and each
/// aging pass is a debugfs command that walks that memcg's page tables. Where the host has only
/// the others, or none, the case is unsupported with what was found.
///
/// The counts are checked against what the guest touched (every page of its memory): after the
/// mark-idle pass, an aging pass with no guest access between must find at least 90 % of the
/// guest's pages idle (the selftest's threshold), and after write idle and after read idle a
/// pass must find at least 90 % young again. The host's own PTEs cannot say so (the guest never
/// touches them: only KVM's SPTEs), so the young-again counts are KVM's answer through
/// clear_young; the `kvm:kvm_age_hva` tracepoint, counted on the aging thread, proves the
/// notifier ran for those pages.
public struct AccessTrackingScenario: Scenario {
    public static let name = "access-tracking"
    public static let summary = "age guest memory through KVM's MMU notifier (kvm_age_gfn) via MGLRU: write/read populated and idle memory, aging time"
    public static let parameterTable = GuestParameters.table

    public var guest: GuestConfiguration
    /// Where the host's aging interfaces are looked for (tests point it at a fake tree).
    var probe = AgingProbe()
    /// The share of the guest's pages an aging pass must find idle (or young again).
    static let threshold = 0.9

    public init(parameters p: ParameterSet, limits: HostLimits) throws(ParameterError) {
        guest = try GuestConfiguration(parameters: try Self.bind(p), limits: limits)
        switch guest.backing {
        case .anonymous4k, .thp, .shmem: break
        default:
            throw ParameterError("access-tracking ages LRU pages charged to a memory cgroup; --backing \(guest.backing.rawValue) is not on the LRU (hugetlb and guest_memfd pages are never aged): allowed anonymous-4k, thp, shmem")
        }
        if guest.hostPrefault {
            throw ParameterError("--host-prefault with access-tracking: the populate phase is the guest's first touch, and host-touched pages would be young in the host's own page tables")
        }
    }

    public var parameters: [String: String] { guest.recorded }

    /// The mechanism, or the case is unsupported with the reason (checked before any VM exists).
    func agingDriver() throws -> LRUGen {
        switch probe.probe() {
        case .unavailable(let reason):
            throw ScenarioUnsupported("access-tracking needs an aging mechanism that reaches KVM's MMU notifier (kvm_age_gfn): \(reason)")
        case .available(.mglru):
            let driver = LRUGen(mmRoot: probe.mmRoot)
            if let reason = driver.unusableReason() { throw ScenarioUnsupported("access-tracking: \(reason)") }
            return driver
        case .available(let other):
            throw ScenarioUnsupported("access-tracking: this host offers \(other.rawValue) aging but no MGLRU, and kvmbench drives only MGLRU (as the selftest does where it exists)")
        }
    }

    public func measure(in context: CaseContext) throws -> Sample {
        let driver = try agingDriver()
        // Opened on this thread, which writes every aging command: the aging walk runs in the
        // writer's context, so the counter sees exactly the notifier calls kvmbench's aging caused.
        let notifier: TracepointCounter
        do { notifier = try TracepointCounter(system: "kvm", event: "kvm_age_hva") }
        catch { throw ScenarioUnsupported("access-tracking cannot prove KVM's aging notifier ran: \(error)") }
        let cgroup: AgingCgroup
        do { cgroup = try AgingCgroup.join() }
        catch { throw ScenarioUnsupported("access-tracking needs a memory cgroup of its own for MGLRU to age: \(error)") }
        defer { cgroup.leave() }
        return try measure(driver: driver, notifier: notifier, cgroup: cgroup, context: context)
    }

    /// One aging pass over the memcg: generations before, the timed commands, generations after.
    struct AgingPass {
        var nanos: UInt64
        var young: Int
        var idle: Int
        var notifierCalls: UInt64
        var pagesInMemcg: Int
    }

    func age(_ driver: LRUGen, _ notifier: borrowing TracepointCounter, memcg: String) throws -> AgingPass {
        let before = try driver.read(memcgPath: memcg)
        let commands = driver.agingCommands(before)
        let handle = try driver.openForAging()
        defer { try? handle.close() }
        let calls = notifier.count()
        let started = MonotonicClock.now()
        for command in commands {
            do { try handle.write(contentsOf: command) }
            catch { throw AgingFailure("the aging command '\(String(decoding: command, as: UTF8.self).trimmingCharacters(in: .newlines))' to \(driver.debugfsFile) failed: \(error)") }
        }
        let nanos = MonotonicClock.now() &- started
        let notifierCalls = notifier.count() &- calls
        let after = try driver.read(memcgPath: memcg)
        let (young, idle) = before.agingResult(after: after)
        return AgingPass(nanos: nanos, young: young, idle: idle, notifierCalls: notifierCalls, pagesInMemcg: after.totalPages)
    }

    func measure(driver: LRUGen, notifier: borrowing TracepointCounter, cgroup: AgingCgroup, context: CaseContext) throws -> Sample {
        guard cgroup.containsThisProcess else {
            throw CheckFailed("kvmbench is not in the memory cgroup \(cgroup.hierarchyPath) it moved into")
        }
        let vm = try GuestVM(configuration: guest, context: context, maxPasses: 1)
        let vcpus = guest.vcpus
        let guestPages = Int(guest.testSize / 4096)
        let needed = Int((Double(guestPages) * Self.threshold).rounded(.up))
        var token: UInt64 = 0
        func pass(write: Bool) throws -> (total: Double, perVCPU: [Double]) {
            token += 1
            for index in 0..<vcpus {
                var workload = vm.defaultWorkload(index, token: token)
                workload.writePercent = write ? 100 : 0
                workload.random = false
                vm.setWorkload(index, workload)
            }
            let nanos = try vm.runPasses(1)
            return (Double(nanos) / 1e9, (0..<vcpus).map { Double(vm.passNanos(vcpu: $0)) / 1e9 })
        }

        let start = vm.readStats()
        let populate = try pass(write: true)
        let afterPopulate = vm.readStats()
        let writePopulated = try pass(write: true)
        let readPopulated = try pass(write: false)
        let beforeAging = vm.readStats()
        let markIdle = try age(driver, notifier, memcg: cgroup.hierarchyPath)
        let idleCheck = try age(driver, notifier, memcg: cgroup.hierarchyPath)
        let afterAging = vm.readStats()
        let writeIdle = try pass(write: true)
        let afterWriteIdle = vm.readStats()
        let youngAfterWrite = try age(driver, notifier, memcg: cgroup.hierarchyPath)
        let readIdle = try pass(write: false)
        let youngAfterRead = try age(driver, notifier, memcg: cgroup.hierarchyPath)
        let end = vm.readStats()

        var sample = Sample()
        sample.extraParameters["aging_mechanism"] = AgingMechanism.mglru.rawValue
        sample.extraParameters["aging_memcg"] = "\(cgroup.hierarchyPath) (cgroup \(cgroup.version))"
        let m = Self.metrics
        let phases: [(MetricDefinition, (total: Double, perVCPU: [Double]))] = [
            (m.populateTime, populate), (m.writePopulatedTime, writePopulated), (m.readPopulatedTime, readPopulated),
            (m.writeIdleTime, writeIdle), (m.readIdleTime, readIdle),
        ]
        for (metric, phase) in phases { sample.add(metric, phase.total) }
        sample.add(m.markIdleTime, Double(markIdle.nanos) / 1e9)
        sample.add(m.agingTimePerPage, Double(markIdle.nanos) / Double(max(1, markIdle.pagesInMemcg)))
        sample.add(m.idleCheckTime, Double(idleCheck.nanos) / 1e9)
        sample.add(m.pagesTouched, Double(guestPages))
        sample.add(m.pagesYoungAtMark, Double(markIdle.young))
        sample.add(m.pagesIdle, Double(idleCheck.idle))
        sample.add(m.pagesYoungAfterWrite, Double(youngAfterWrite.young))
        sample.add(m.pagesYoungAfterRead, Double(youngAfterRead.young))
        sample.add(m.ageNotifierCalls, Double(markIdle.notifierCalls))
        sample.add(m.memcgPages, Double(markIdle.pagesInMemcg))

        sample.setKVMStats(vm.statsReport(from: start, to: end))
        sample.phaseStats = [
            "populate": vm.statsDeltas(from: start, to: afterPopulate),
            "populated_passes": vm.statsDeltas(from: afterPopulate, to: beforeAging),
            "aging": vm.statsDeltas(from: beforeAging, to: afterAging),
            "write_idle": vm.statsDeltas(from: afterAging, to: afterWriteIdle),
            "aging_passes": [
                "mark_idle_young": Int64(markIdle.young), "mark_idle_notifier_calls": Int64(markIdle.notifierCalls),
                "idle_check_idle": Int64(idleCheck.idle), "idle_check_young": Int64(idleCheck.young),
                "idle_check_notifier_calls": Int64(idleCheck.notifierCalls),
                "after_write_young": Int64(youngAfterWrite.young), "after_write_notifier_calls": Int64(youngAfterWrite.notifierCalls),
                "after_read_young": Int64(youngAfterRead.young), "after_read_notifier_calls": Int64(youngAfterRead.notifierCalls),
            ],
        ]
        sample.perVCPU = (0..<vcpus).map { index in
            Dictionary(uniqueKeysWithValues: phases.map { ($0.0.name, $0.1.perVCPU[index]) })
                .merging(["pages": Double(guest.pagesPerVCPU)]) { first, _ in first }
        }
        if vcpus > ProcessInfo.processInfo.activeProcessorCount {
            sample.notes.append("\(vcpus) vCPUs on \(ProcessInfo.processInfo.activeProcessorCount) host CPUs: vCPUs time-share, expect up to 2x variation")
        }

        // The checks: the notifier reached KVM for every guest page, and the counts match what the guest touched.
        guard markIdle.notifierCalls >= UInt64(guestPages) else {
            throw CheckFailed("access-tracking: the mark-idle pass made \(markIdle.notifierCalls) kvm:kvm_age_hva calls for \(guestPages) guest pages: KVM's aging notifier did not see every page")
        }
        let checks: [(String, Int)] = [
            ("found young when marking idle (the guest had just read and written them)", markIdle.young),
            ("found idle by a pass right after marking (no guest access between)", idleCheck.idle),
            ("found young again after the guest wrote its idle memory", youngAfterWrite.young),
            ("found young again after the guest read its idle memory", youngAfterRead.young),
        ]
        for (what, pages) in checks where pages < needed {
            throw CheckFailed("access-tracking: \(pages) pages \(what); the guest touched \(guestPages), at least \(needed) (\(Int(Self.threshold * 100)) %) expected")
        }
        return sample
    }
}
