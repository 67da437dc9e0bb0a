import Harness
import Backings
import Foundation
import GuestPrograms
import KVM
import Results

/// The parameters of `demand-paging`: the guest's and the userfaultfd ones.
public enum DemandPagingParameters {
    public static let uffd = Parameter<UffdMode>.choice(
        "uffd", help: "serve first-touch faults through userfaultfd: none, missing (UFFDIO_COPY) or minor (UFFDIO_CONTINUE; needs --backing shmem or shared-hugetlb)",
        default: UffdMode.none, valueName: "mode")
    public static let uffdShared = Parameter<Bool>.bool(
        "uffd_shared", help: "one userfaultfd (and its readers) for all vCPUs instead of one per vCPU region")
        .defaulting(to: nil, note: "true with --shared-region, else false")
    public static let uffdReaders = Parameter<Int>.int(
        "uffd_readers", help: "handler threads reading each userfaultfd", default: 1, range: 1...64)
    public static let uffdDelay = Parameter<UInt64>.duration(
        "uffd_delay", help: "artificial delay before each resolution, e.g. 10us (a plain number is microseconds)",
        default: 0, plainUnit: 1_000, range: 0...1_000_000_000,
        problem: "not a duration within 0...1s (examples: 10us, 500ns, 2ms; a plain number is microseconds)")

    public static let table = ParameterTable(GuestParameters.all + [uffd, uffdShared, uffdReaders, uffdDelay, PopulateMethod.parameter])
}

/// Demand paging (the kernel selftests' demand_paging_test): every vCPU touches its memory for the
/// first time, so each 4 KiB page costs one KVM page fault, then touches it again with the
/// mappings in place. The first pass measures KVM's fault path; the second, the guest alone.
///
/// With `--uffd missing|minor` the test memory is registered with userfaultfd before the guest
/// runs, so every first touch also goes through handle_userfault(): the vCPU thread sleeps in the
/// kernel until a host handler thread resolves the page (UFFDIO_COPY or UFFDIO_CONTINUE), as in
/// post-copy live migration. The handlers time every fault and count their resolutions, which must
/// equal the host pages the guest touched.
public struct DemandPagingScenario: Scenario {
    public static let name = "demand-paging"
    public static let summary = "first touch of guest memory by N vCPUs: KVM page-fault throughput and scaling"
    public static let parameterTable = DemandPagingParameters.table

    public var guest: GuestConfiguration
    public var uffd: UffdService.Options
    /// `--populate`: guest first touch (default) or KVM_PRE_FAULT_MEMORY before it.
    public var populate: PopulateMethod = .guest

    public init(guest: GuestConfiguration, uffd: UffdService.Options = UffdService.Options(mode: .none), populate: PopulateMethod = .guest) {
        self.guest = guest
        self.uffd = uffd
        self.populate = populate
    }

    public init(parameters: ParameterSet, limits: HostLimits) throws(ParameterError) {
        let p = try Self.bind(parameters)
        guest = try GuestConfiguration(parameters: p, limits: limits)
        uffd = try Self.uffdOptions(p, guest: guest)
        populate = try p.value(PopulateMethod.parameter)
        if populate == .preFault && uffd.mode != .none {
            throw ParameterError("--populate pre-fault with --uffd \(uffd.mode.rawValue): KVM_PRE_FAULT_MEMORY would resolve every page before the guest runs, so no fault would reach userfaultfd")
        }
    }

    /// Reads and checks the userfaultfd keys against the guest they would serve.
    static func uffdOptions(_ p: ParameterSet, guest: GuestConfiguration) throws(ParameterError) -> UffdService.Options {
        typealias Declared = DemandPagingParameters
        let mode = try p.value(Declared.uffd)
        let readers = try p.value(Declared.uffdReaders)
        let delay = try p.value(Declared.uffdDelay)
        let sharedGiven = try p.given(Declared.uffdShared)
        let shared = sharedGiven ?? guest.sharedRegion
        if mode == .none {
            for parameter in [Declared.uffdShared, Declared.uffdReaders, Declared.uffdDelay] as [any ParameterDeclaration] where p.string(parameter.key) != nil {
                throw ParameterError("\(parameter.flag) needs --uffd missing or --uffd minor (got --uffd none)")
            }
            return UffdService.Options(mode: .none)
        }
        if guest.backing == .guestMemfd {
            throw ParameterError("--uffd \(mode.rawValue) with --backing guest-memfd: KVM faults guest_memfd memory through the guest_memfd, never through the host mapping userfaultfd watches; use another backing")
        }
        if mode == .minor && !guest.backing.isShared {
            throw ParameterError("--uffd minor needs a shared backing (shmem or shared-hugetlb): minor faults resolve pages already in a file's page cache, and --backing \(guest.backing.rawValue) is private memory")
        }
        if guest.backing == .hugetlb1g {
            throw ParameterError("--uffd \(mode.rawValue) with --backing hugetlb-1g is not supported: every fault would resolve a whole 1 GiB page; use hugetlb-2m, shared-hugetlb, shmem, thp or anonymous-4k")
        }
        if guest.hostPrefault {
            throw ParameterError("--host-prefault cannot be combined with --uffd \(mode.rawValue): prefaulting maps every host page before the guest runs, so no fault would ever reach userfaultfd")
        }
        if guest.sharedRegion && sharedGiven == false {
            throw ParameterError("--shared-region with --uffd-shared false: all vCPUs use one region, so there is one userfaultfd for it (allowed: --uffd-shared true, or leave it out)")
        }
        return UffdService.Options(mode: mode, shared: shared, readers: readers, delayNanos: delay)
    }

    public var parameters: [String: String] {
        var out = guest.recorded
        out["uffd"] = uffd.mode.rawValue
        if uffd.mode != .none {
            out["uffd_shared"] = "\(uffd.shared)"
            out["uffd_readers"] = "\(uffd.readers)"
            out["uffd_delay"] = formatDuration(uffd.delayNanos)
        }
        if populate != .guest { out["populate"] = populate.rawValue }
        return out
    }

    public var notices: [String] {
        var out: [String] = []
        if uffd.mode == .missing && guest.backing == .thp {
            out.append("--uffd missing installs 4 KiB pages with UFFDIO_COPY: a thp backing gets no huge pages in this run")
        }
        return out
    }

    /// The userfaultfd handlers' histograms and copy source (fixed in size, however many faults).
    public var hostBufferBytes: UInt64 { uffd.bufferBytes(vcpus: guest.vcpus, unit: faultUnit) }

    /// Host page size at which userfaultfd resolves faults on this backing.
    var faultUnit: UInt64 { guest.backing.hugetlbPool != nil ? guest.backing.pageSize : 4096 }

    /// One repetition on a fresh VM.
    public func measure(in context: CaseContext) throws -> Sample {
        let vm = try GuestVM(configuration: guest, context: context, maxPasses: 2)
        let pagesPerVCPU = Double(guest.pagesPerVCPU)
        let vcpus = guest.vcpus
        let hostPages = Int(guest.testSize / 4096)
        let residentBefore = vm.testMemory.residentPages()

        var service: UffdService? = nil
        if uffd.mode != .none {
            service = try UffdService(options: uffd, memory: vm.testMemory, regions: guest.sharedRegion ? 1 : vcpus)
        }

        var preFault: (nanos: UInt64, perVCPU: [Double], stats: [String: Int64])?
        if populate == .preFault {
            // Decided before anything is timed: unsupported here with the reason.
            try vm.checkPreFaultSupport()
            let beforePreFault = vm.readStats()
            let nanos = try vm.preFaultTestMemory()
            let perVCPU = (0..<vcpus).map { Double(vm.passNanos(vcpu: $0)) / 1e9 }
            preFault = (nanos, perVCPU, vm.statsDeltas(from: beforePreFault, to: vm.readStats()))
        }

        let before = vm.readStats()
        let firstNanos = try vm.runPasses(1)
        let afterFirst = vm.readStats()
        let guestMemfdPages = guest.backing == .guestMemfd ? GuestMemfdPages(vm.testMemory) : nil
        let firstPerVCPU = (0..<vcpus).map { Double(vm.passNanos(vcpu: $0)) / 1e9 }
        // Stops the handlers and closes the uffds: the second pass takes ordinary faults, if any.
        let report = try service?.finish()
        service = nil


        vm.setToken(2)
        let secondNanos = try vm.runPasses(1)
        let afterSecond = vm.readStats()
        let secondPerVCPU = (0..<vcpus).map { Double(vm.passNanos(vcpu: $0)) / 1e9 }

        var sample = Sample()
        let first = Double(firstNanos) / 1e9
        let totalPages = pagesPerVCPU * Double(vcpus)
        let sortedFirst = firstPerVCPU.sorted()
        sample.add(Self.metrics.firstTouchTime, first)
        sample.add(Self.metrics.vcpuTimeMin, sortedFirst.first ?? 0)
        sample.add(Self.metrics.vcpuTimeMedian, sortedFirst[sortedFirst.count / 2])
        // The slowest vCPU: the one the whole VM waits for.
        sample.add(Self.metrics.vcpuTimeMax, sortedFirst.last ?? 0)
        sample.add(Self.metrics.demandPagingRate, totalPages / first)
        // demand_paging_test's "Per-vcpu demand paging rate": one vCPU's pages over the whole first touch.
        sample.add(Self.metrics.ratePerVCPU, pagesPerVCPU / first)
        let second = Double(secondNanos) / 1e9
        sample.add(Self.metrics.secondPassTime, second)
        let secondSlowest = secondPerVCPU.max() ?? second
        sample.add(Self.metrics.secondPassPerPage, secondSlowest / pagesPerVCPU * 1e9)
        sample.add(Self.metrics.hostPagesResidentBefore, Double(residentBefore))
        if let report {
            try record(report, vm: vm, into: &sample)
            // The vCPU side of a userfault: each vCPU's first-touch time over the faults it sent to
            // the handlers (KVM's fault path, the wait for a handler to wake, the resolution, and
            // the wake-up of the vCPU thread), averaged over the faults of every vCPU.
            let faults = report.messages - report.alreadyPresent
            if faults > 0 {
                let vcpuNanos = firstPerVCPU.reduce(0, +) * 1e9
                sample.add(Self.metrics.uffdVCPUTimePerFault, vcpuNanos / Double(faults) / 1000)
            }
        }
        if guest.hostPrefault && residentBefore < hostPages {
            throw CheckFailed("--host-prefault: only \(residentBefore) of \(hostPages) host pages were resident before the guest ran")
        }

        sample.setKVMStats(vm.statsReport(from: before, to: afterFirst))
        // Below 1 when KVM maps several pages per fault: shadow paging prefetches the neighbours
        // whose guest PTEs have the Accessed bit (`--guest-ad-bits preset`) and whose host pages exist.
        let touched = Double(WorkloadReplay.touchedUnits(configuration: guest, unit: 4096))
        if let faults = sample.kvmStats["pf_taken"], touched > 0 {
            sample.add(Self.metrics.faultsPerPage, Double(faults) / touched)
        }
        if let guestMemfdPages { try recordGuestMemfd(guestMemfdPages, stats: sample.kvmStats, into: &sample) }
        sample.phaseStats = [
            "first_touch": sample.kvmStats,
            "second_pass": vm.statsDeltas(from: afterFirst, to: afterSecond),
        ]
        if let preFault { try recordPreFault(preFault, firstTouch: sample.kvmStats, into: &sample) }
        let slowest = firstPerVCPU.indices.max { firstPerVCPU[$0] < firstPerVCPU[$1] } ?? 0
        var perVCPU = (0..<vcpus).map { index -> [String: Double] in
            var values = [
                "first_touch_time": firstPerVCPU[index],
                "pages": pagesPerVCPU,
                "rate": pagesPerVCPU / firstPerVCPU[index],
                "second_pass_time": secondPerVCPU[index],
                "slowest": index == slowest ? 1 : 0,
            ]
            if let preFault { values["pre_fault_time"] = preFault.perVCPU[index] }
            return values
        }
        if let report, !uffd.shared, report.resolvedPerHandler.count == vcpus {
            for index in 0..<vcpus {
                perVCPU[index]["uffd_resolved"] = Double(report.resolvedPerHandler[index])
                perVCPU[index]["uffd_handler_latency_p50_us"] = report.medianPerHandler[index] / 1000
            }
        }
        sample.perVCPU = perVCPU
        if vcpus > ProcessInfo.processInfo.activeProcessorCount {
            sample.notes.append("\(vcpus) vCPUs on \(ProcessInfo.processInfo.activeProcessorCount) host CPUs: vCPUs time-share, expect up to 2x variation")
        }
        return sample
    }

    /// Adds the handlers' figures to `sample`, after checking that they resolved exactly the host
    /// pages the guest touched and that the guest memory holds what they supplied.
    func record(_ report: UffdReport, vm: GuestVM, into sample: inout Sample) throws {
        let unit = faultUnit
        let touched = WorkloadReplay.touchedUnits(configuration: guest, unit: unit)
        let verb = uffd.mode == .minor ? "UFFDIO_CONTINUE" : "UFFDIO_COPY"
        guard report.resolved == touched else {
            throw CheckFailed("\(verb) resolved \(report.resolved) host pages of \(formatBytes(unit)) but the guest touched \(touched) (\(report.messages) fault messages, \(report.alreadyPresent) already present)")
        }
        if guest.access == .sequential {
            // Every unit was touched: each must hold the handler's bytes in its last byte, which
            // the guest (writing 8 bytes at the start of each 4 KiB page) never overwrites.
            let pattern = uffd.mode == .minor ? UffdService.minorPattern : UffdService.copyPattern
            let memory = vm.testMemoryView
            var served = 0
            var offset: UInt64 = 0
            while offset < vm.testMemory.size {
                if memory.byte(atOffset: Int(offset + unit - 1)) == pattern { served += 1 }
                offset += unit
            }
            guard served == touched else {
                throw CheckFailed("only \(served) of \(touched) host pages hold the bytes the \(verb) handler supplied")
            }
        }
        sample.add(uffd.mode == .minor ? Self.metrics.uffdContinues : Self.metrics.uffdCopies, Double(report.resolved))
        sample.add(Self.metrics.pagesTouched, Double(touched))
        sample.add(Self.metrics.uffdMessages, Double(report.messages))
        if report.alreadyPresent > 0 {
            sample.add(Self.metrics.uffdAlreadyPresent, Double(report.alreadyPresent))
        }
        // Handler latency: the handler's wake-up to the fault resolved (not the vCPU's whole wait).
        let latency = report.handlerLatency
        sample.add(Self.metrics.uffdHandlerLatencyP50, latency.p50 / 1000)
        sample.add(Self.metrics.uffdHandlerLatencyP90, latency.p90 / 1000)
        sample.add(Self.metrics.uffdHandlerLatencyP99, latency.p99 / 1000)
        sample.add(Self.metrics.uffdHandlerLatencyMax, latency.max / 1000)
        // The distribution is often bimodal (the woken vCPU may preempt the handler on its CPU
        // before the ioctl returns), so the mean says what the percentiles alone do not.
        sample.add(Self.metrics.uffdHandlerLatencyMean, latency.mean / 1000)
        sample.add(Self.metrics.uffdReadP50, report.readLatency.p50 / 1000)
        sample.add(Self.metrics.uffdResolveP50, report.resolveLatency.p50 / 1000)
        if let gap = report.faultToRead, gap.count > 0, !uffd.shared || guest.vcpus == 1 {
            sample.add(Self.metrics.uffdFaultToReadP50, gap.p50 / 1000)
            sample.add(Self.metrics.uffdFaultToReadP99, gap.p99 / 1000)
        }
        if report.dropped > 0 {
            sample.notes.append("\(report.dropped) userfaultfd latencies were beyond the histogram's 100 s range and were not recorded")
        }
        sample.extraParameters["uffd_unit"] = formatSize(unit)
    }
}

/// A measurement whose own consistency check failed (the case is reported as failed, with this).
public struct CheckFailed: Error, CustomStringConvertible, Sendable {
    public var detail: String
    public init(_ detail: String) { self.detail = detail }
    public var description: String { detail }
}

/// Replays the guest workload's address generator on the host, to know which pages a pass touches
/// without reading guest memory.
public enum WorkloadReplay {
    /// Number of distinct host pages of `unit` bytes that the first pass of every vCPU touches
    /// (reads or writes), over the whole test memory.
    ///
    /// Mirrors `WorkloadProgram`: per access the xorshift64 state steps (x ^= x << 13, x >> 7,
    /// x << 17); sequential mode visits base, base + stride, ...; random mode picks slot
    /// ((x >> 32) * targets) >> 32. Seeds are those `VCPUEntryState` gives each vCPU.
    public static func touchedUnits(configuration: GuestConfiguration, unit: UInt64) -> Int {
        let pagesPerVCPU = configuration.memoryPerVCPU / 4096
        if configuration.access == .sequential {
            let bytes = configuration.sharedRegion ? configuration.memoryPerVCPU : configuration.testSize
            return Int((bytes + unit - 1) / unit)
        }
        let layout = GuestLayout(vcpuCount: configuration.vcpus, testSize: configuration.testSize,
                                 guestPageSize: configuration.guestPageSize)
        let units = Int((configuration.testSize + unit - 1) / unit)
        var seen = [Bool](repeating: false, count: units)
        var count = 0
        for vcpu in 0..<configuration.vcpus {
            var x = VCPUEntryState(layout: layout, vcpu: vcpu, seed: configuration.seed).seed
            let regionStart = configuration.sharedRegion ? 0 : UInt64(vcpu) * configuration.memoryPerVCPU
            for _ in 0..<pagesPerVCPU {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17
                let slot = ((x >> 32) &* pagesPerVCPU) >> 32
                let index = Int((regionStart + slot * 4096) / unit)
                if !seen[index] { seen[index] = true; count += 1 }
            }
        }
        return count
    }
}
