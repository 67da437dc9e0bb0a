import Harness
import Backings
import Foundation
import GuestPrograms
import KVM
import Results

/// Invalidation racing with faults (the kernel selftests' mmu_stress_test, formerly
/// max_guest_memory_test): every vCPU keeps writing its memory while three host threads take it
/// away in 2 MiB chunks (`--chunk`): one mprotects chunks read-only and back, one discards them
/// (MADV_DONTNEED), one unmaps and maps them again (munmap + mmap). Each of these goes through
/// the MMU notifier, so KVM zaps the chunk's mappings while vCPUs fault them back in; a vCPU
/// writing a read-only or unmapped chunk gets EFAULT from KVM_RUN and retries.
///
/// `--cycles` times: a storm of `--cycle-duration`, then a check point. The vCPUs stop, write every
/// page once more (each page holds its guest address plus a per-cycle token), the host discards
/// one chunk and remaps the next in every vCPU's region and makes the whole memory read-only, and
/// the vCPUs read every page back through KVM's mappings: the token where memory was kept, zero in
/// the two chunks. A wrong value (a stale mapping, lost data) fails the case with its address.
/// Before the storms the vCPUs run as long with nothing taken away: the quiet access rate.
public struct MMUStressScenario: Scenario {
    public static let name = "mmu-stress"
    public static let summary = "vCPUs write while host threads mprotect, discard and remap their memory: invalidation latency, guest slowdown, read-back check"
    public static let parameterTable = ParameterTable(GuestParameters.all + [
        GuestParameters.vcpus.defaulting(to: 2), cycles, cycleDuration, chunk,
    ])
    public static let cycles = Parameter<Int>.int(
        "cycles", help: "storm + read-back check points", default: 10, range: 1...10_000)
    public static let cycleDuration = Parameter<UInt64>.duration(
        "cycle_duration", help: "length of each storm, e.g. 50ms", default: 50_000_000, plainUnit: 1_000,
        range: 1_000_000...60_000_000_000, problem: "not a duration within 1ms...60s (examples: 50ms, 1s)")
    public static let chunk = Parameter<UInt64>.size(
        "chunk", help: "bytes each host operation covers", default: 2 << 20,
        allowed: "a multiple of the backing's page size dividing --mem-per-vcpu at least twice")
    /// Host operations of the storm, one host thread each.
    static let operations = ["mprotect", "discard", "remap"]

    public var guest: GuestConfiguration
    public var cycles: Int
    public var cycleNanos: UInt64
    public var chunk: UInt64
    /// Tests only: the host overwrites the page at this test-memory offset after the first check
    /// point's write pass, behind the guest's back, so the read-back must fail there.
    var corruptOffsetForTest: UInt64? = nil

    public init(parameters: ParameterSet, limits: HostLimits) throws(ParameterError) {
        let p = try Self.bind(parameters)
        guest = try GuestConfiguration(parameters: p, limits: limits)
        cycles = try p.value(Self.cycles)
        chunk = try p.value(Self.chunk)
        cycleNanos = try p.value(Self.cycleDuration)
        guard guest.backing == .anonymous4k || guest.backing == .thp else {
            throw ParameterError("--backing \(guest.backing.rawValue): mmu-stress needs private anonymous memory, whose discarded pages read back as zeroes: anonymous-4k or thp")
        }
        if guest.sharedRegion {
            throw ParameterError("--shared-region: mmu-stress gives every vCPU its own region (its read-back expects only its own writes)")
        }
        let unit = max(guest.backing.pageSize, 4096)
        guard chunk >= unit, chunk % unit == 0, guest.memoryPerVCPU % chunk == 0, guest.memoryPerVCPU / chunk >= 2 else {
            throw ParameterError("--chunk \(formatSize(chunk)): must be a multiple of \(formatBytes(unit)) (the \(guest.backing.rawValue) page size) that divides --mem-per-vcpu \(formatSize(guest.memoryPerVCPU)) at least twice")
        }
    }

    public var parameters: [String: String] {
        var out = guest.recorded
        out[Self.cycles.key] = Self.cycles.format(cycles)
        out[Self.cycleDuration.key] = Self.cycleDuration.format(cycleNanos)
        out[Self.chunk.key] = Self.chunk.format(chunk)
        // The workload always writes every page in order.
        out["access"] = AccessPattern.sequential.rawValue
        out["write_percent"] = "100"
        return out
    }

    public var notices: [String] {
        guest.access != .sequential || guest.writePercent != 100
            ? ["mmu-stress always writes every page in order: --access and --write-percent do not apply"] : []
    }

    var chunksPerVCPU: UInt64 { guest.memoryPerVCPU / chunk }

    public func measure(in context: CaseContext) throws -> Sample {
        let vm = try GuestVM(configuration: guest, context: context, maxPasses: 2, userCode: ReadBackProgram.code)
        vm.retryFaults(true)
        let memory = vm.testMemory.operations
        let vcpus = guest.vcpus
        let pages = guest.pagesPerVCPU
        func regionBase(_ index: Int) -> UInt64 { vm.layout.testBase + UInt64(index) * guest.memoryPerVCPU }
        func setAll(token: UInt64, mode: ReadBackWorkload.Mode, window: (UInt64, UInt64)? = nil) {
            for index in 0..<vcpus {
                let base = regionBase(index)
                let zero = window.map { (base + $0.0, base + $0.1) } ?? (0, 0)
                vm.setReadBackWorkload(index, ReadBackWorkload(base: base, pages: pages, token: token, mode: mode,
                                                               zeroStart: zero.0, zeroEnd: zero.1))
            }
        }

        var sample = Sample()
        setAll(token: 1, mode: .write)
        let populate = try vm.runPasses(1)
        sample.add(Self.metrics.populateTime, Double(populate) / 1e9)

        // Quiet: as long as all the storms together (at least 200 ms), nothing taken away.
        let quietTarget = max(UInt64(cycles) * cycleNanos, 200_000_000)
        let quietBefore = vm.readStats()
        let quiet = try runContinuously(vm, for: quietTarget) { $0.sleep() }
        let quietAfter = vm.readStats()

        let threads = Self.operations.indices.map { StormThread(operation: $0, memory: memory, chunk: chunk,
                                                               chunks: guest.testSize / chunk, capacity: 1 << 17) }
        var stormNanos: UInt64 = 0
        var stormPasses = 0
        var checkNanos: [UInt64] = []
        var checkpointRemaps: [UInt64] = []
        let mappingsBefore = vm.vmStatValues()
        let stormBefore = vm.readStats()
        var stormStats = KVMStatsReport()
        for cycle in 1...cycles {
            setAll(token: UInt64(cycle) << 32, mode: .write)
            let stats0 = vm.readStats()
            let storm = try runContinuously(vm, for: cycleNanos) { deadline in
                let group = DispatchGroup()
                for thread in threads {
                    group.enter()
                    Thread { thread.run(until: deadline.end); group.leave() }.start()
                }
                group.wait()
            }
            stormStats.accumulate(vm.statsReport(from: stats0, to: vm.readStats()))
            stormNanos += storm.nanos
            stormPasses += storm.passes
            if let failed = threads.first(where: { $0.failure != 0 }) {
                throw CheckFailed("\(Self.operations[failed.operation]) of a guest memory chunk failed: \(String(cString: strerror(failed.failure)))")
            }

            // Check point: every page written once more, one chunk discarded and the next
            // remapped in each region, the memory read-only, and every page read back.
            let token = UInt64(cycle) << 32 | 1
            setAll(token: token, mode: .write)
            try vm.runPasses(1)
            let first = UInt64(cycle - 1) % (chunksPerVCPU - 1)
            for index in 0..<vcpus {
                let offset = UInt64(index) * guest.memoryPerVCPU + first * chunk
                let started = MonotonicClock.now()
                var status = memory.discard(offset: offset, length: chunk)
                if status == 0 { status = memory.remap(offset: offset + chunk, length: chunk) }
                checkpointRemaps.append(MonotonicClock.now() &- started)
                if status != 0 { throw CheckFailed("discard/remap at test-memory offset \(hex(offset)) failed: \(String(cString: strerror(status)))") }
            }
            if cycle == 1, let offset = corruptOffsetForTest { memory.store(0xBAD0_BAD0_BAD0_BAD0, at: offset) }
            if memory.protect(offset: 0, length: memory.size, writable: false) != 0 {
                throw CheckFailed("mprotect(PROT_READ) of the guest memory failed: \(String(cString: strerror(errno)))")
            }
            setAll(token: token, mode: .verify, window: (first * chunk, (first + 2) * chunk))
            do {
                checkNanos.append(try vm.runPasses(1))
            } catch {
                _ = memory.protect(offset: 0, length: memory.size, writable: true)
                throw error
            }
            if memory.protect(offset: 0, length: memory.size, writable: true) != 0 {
                throw CheckFailed("mprotect(PROT_READ|PROT_WRITE) of the guest memory failed: \(String(cString: strerror(errno)))")
            }
        }
        let stormAfter = vm.readStats()
        let mappingsAfter = vm.vmStatValues()

        for (index, name) in Self.operations.enumerated() {
            let sorted = threads[index].latencies().map { Double($0) / 1e3 }.sorted()
            guard !sorted.isEmpty else { continue }
            sample.add(Self.metrics.latencyP50(name), Summary.percentile(50, of: sorted))
            sample.add(Self.metrics.latencyP90(name), Summary.percentile(90, of: sorted))
            sample.add(Self.metrics.latencyP99(name), Summary.percentile(99, of: sorted))
            sample.add(Self.metrics.latencyMax(name), sorted.last ?? 0)
            sample.add(Self.metrics.operations(name), Double(sorted.count))
            if threads[index].dropped > 0 {
                sample.notes.append("\(threads[index].dropped) \(name) latencies did not fit the preallocated buffer and were not recorded")
            }
        }
        let pagesPerPass = Double(pages)
        let quietRate = Double(quiet.passes) * pagesPerPass / (Double(quiet.nanos) / 1e9)
        let stormRate = Double(stormPasses) * pagesPerPass / (Double(stormNanos) / 1e9)
        sample.add(Self.metrics.accessRateQuiet, quietRate)
        sample.add(Self.metrics.accessRateStorm, stormRate)
        sample.add(Self.metrics.rateDrop, quietRate > 0 ? (1 - stormRate / quietRate) * 100 : 0)
        sample.add(Self.metrics.efaultRetries, Double(vm.faultRetries))
        let checks = checkNanos.map { Double($0) / 1e9 }.sorted()
        sample.add(Self.metrics.readBackTime, Summary.percentile(50, of: checks))
        sample.add(Self.metrics.readBackChecks, Double(checks.count * vcpus))
        sample.add(Self.metrics.pagesVerified, Double(UInt64(checks.count) * pages * UInt64(vcpus)))
        let remaps = checkpointRemaps.sorted().map { Double($0) / 1e3 }
        sample.add(Self.metrics.checkpointDiscardRemapP50, Summary.percentile(50, of: remaps))

        sample.setKVMStats(stormStats)
        var storm = vm.statsDeltas(from: stormBefore, to: stormAfter)
        for name in ["pages_4k", "pages_2m", "pages_1g"] {
            if let value = mappingsBefore[name] { storm[name + "_before"] = Int64(value) }
            if let value = mappingsAfter[name] { storm[name + "_after"] = Int64(value) }
        }
        sample.phaseStats = ["storms": stormStats.values, "storms_and_checks": storm,
                             "quiet": vm.statsDeltas(from: quietBefore, to: quietAfter)]
        if stormPasses < 10 * vcpus {
            sample.notes.append("few whole passes counted under the storm (\(stormPasses)): the access rates count only completed passes; raise --cycle-duration for a finer figure")
        }
        if vcpus + Self.operations.count > ProcessInfo.processInfo.activeProcessorCount {
            sample.notes.append("\(vcpus) vCPUs and \(Self.operations.count) host threads share \(ProcessInfo.processInfo.activeProcessorCount) host CPUs: part of the drop is CPU time the host threads take")
        }
        return sample
    }

    /// Runs the vCPUs in continuous mode while `body` works (or sleeps) until the deadline; returns
    /// the whole passes they completed and the nanoseconds it took.
    func runContinuously(_ vm: GuestVM, for nanos: UInt64, _ body: (Deadline) -> Void) throws -> (passes: Int, nanos: UInt64) {
        vm.startContinuous()
        let result: (Int, UInt64)
        do {
            try MemslotLoops.waitUntilRunning(vm)
            let passes0 = vm.continuousPasses
            let started = MonotonicClock.now()
            body(Deadline(end: started + nanos))
            result = (vm.continuousPasses - passes0, MonotonicClock.now() &- started)
        } catch {
            try? vm.stop()
            throw error
        }
        try vm.stop()
        return result
    }

    struct Deadline {
        var end: UInt64
        func sleep() {
            while MonotonicClock.now() < end { usleep(1000) }
        }
    }
}

/// One host thread of the storm: walks the chunks that are its own (every third one) and applies
/// its operation to each until the deadline, timing every system call into a preallocated buffer.
///
/// SAFETY (`@unchecked Sendable`): the buffer and counters are written only by the thread running
/// `run(until:)`, and read by the harness after the DispatchGroup it leaves has been waited on.
final class StormThread: @unchecked Sendable {
    let operation: Int
    let memory: HostMemoryOperations
    let chunk: UInt64
    let chunks: UInt64
    private var buffer: LatencyBuffer
    private(set) var dropped = 0
    /// errno of the first failed call (0: none).
    private(set) var failure: Int32 = 0

    init(operation: Int, memory: HostMemoryOperations, chunk: UInt64, chunks: UInt64, capacity: Int) {
        self.operation = operation
        self.memory = memory
        self.chunk = chunk
        self.chunks = chunks
        buffer = LatencyBuffer(capacity: capacity)
    }

    func latencies() -> [UInt64] { buffer.values }

    private func record(_ nanos: UInt64) {
        if !buffer.append(nanos) { dropped += 1 }
    }

    /// At least one operation per storm, also when the thread started after the deadline (a busy
    /// host may start it late): a storm that took nothing away would measure nothing.
    func run(until deadline: UInt64) {
        guard UInt64(operation) < chunks else { return }
        var index = UInt64(operation)
        let stride = UInt64(MMUStressScenario.operations.count)
        repeat {
            let offset = index * chunk
            let a = MonotonicClock.now()
            switch operation {
            case 0:
                failure = memory.protect(offset: offset, length: chunk, writable: false)
                let b = MonotonicClock.now()
                record(b &- a)
                if failure == 0 {
                    // Read-only for a moment, as long as a vCPU takes to write a chunk's worth of
                    // pages: long enough for writes to meet it (EFAULT), not in the timed region.
                    usleep(100)
                    let b = MonotonicClock.now()
                    failure = memory.protect(offset: offset, length: chunk, writable: true)
                    record(MonotonicClock.now() &- b)
                }
            case 1:
                failure = memory.discard(offset: offset, length: chunk)
                record(MonotonicClock.now() &- a)
            default:
                failure = memory.remap(offset: offset, length: chunk)
                record(MonotonicClock.now() &- a)
            }
            index += stride
            if index >= chunks { index = UInt64(operation) }
        } while failure == 0 && MonotonicClock.now() < deadline
    }
}
