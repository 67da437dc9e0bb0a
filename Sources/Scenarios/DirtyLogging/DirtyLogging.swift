import Harness
import Backings
import Foundation
import GuestPrograms
import KVM
import Results

/// How the host learns which pages the guest dirtied (`--dirty-mode`).
public enum DirtyLogMode: String, CaseIterable, Sendable {
    /// KVM_GET_DIRTY_LOG alone: the ioctl copies each slot's bitmap out, clears it and
    /// write-protects the reported pages again, all under the MMU lock.
    case bitmap
    /// KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2: KVM_GET_DIRTY_LOG only copies the bitmap; KVM_CLEAR_DIRTY_LOG
    /// clears the bits userspace hands back and re-protects just those pages.
    case manual
    /// Manual protect with KVM_DIRTY_LOG_INITIALLY_SET: enabling logging marks every page dirty and
    /// write-protects nothing (huge mappings are not split); protection starts with the first clear.
    case manualInitiallySet = "manual-initially-set"
    /// KVM_CAP_DIRTY_LOG_RING(_ACQ_REL): each vCPU appends (slot, offset) entries to its own ring;
    /// userspace harvests them and KVM_RESET_DIRTY_RINGS re-protects the harvested pages.
    case ring

    /// Uses KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 (and so KVM_CLEAR_DIRTY_LOG).
    public var usesManualProtect: Bool { self == .manual || self == .manualInitiallySet }
}

/// What this host's KVM offers for dirty logging, read with KVM_CHECK_EXTENSION before any VM
/// exists. Tests build their own values to simulate hosts without a capability.
public struct DirtyLogLimits: Sendable, Equatable {
    /// Bytes of one vCPU's dirty ring at most: KVM_CHECK_EXTENSION(KVM_CAP_DIRTY_LOG_RING_ACQ_REL or
    /// KVM_CAP_DIRTY_LOG_RING) returns KVM_DIRTY_RING_MAX_ENTRIES * sizeof(struct kvm_dirty_gfn); 0 when absent.
    public var ringMaxBytes: Int
    /// KVM_CHECK_EXTENSION(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2): the KVM_DIRTY_LOG_* flags the host
    /// accepts (bit 0 MANUAL_PROTECT_ENABLE, bit 1 INITIALLY_SET); 0 when absent.
    public var manualProtectFlags: Int

    /// The smallest ring KVM accepts, in entries. KVM_ENABLE_CAP(KVM_CAP_DIRTY_LOG_RING) refuses a
    /// ring smaller than one host page (4096 bytes = 256 entries on x86) or not larger than the
    /// entries it keeps in reserve: KVM_DIRTY_RING_RSVD_ENTRIES (64) plus the CPU's own dirty-log
    /// buffer (512 with Intel PML, so 1024 there; the latter is not visible to userspace, so such a
    /// host refuses at VM creation and the case is reported unsupported).
    public var ringMinEntries: Int

    public init(ringMaxBytes: Int, manualProtectFlags: Int, ringMinEntries: Int = 256) {
        self.ringMaxBytes = ringMaxBytes
        self.manualProtectFlags = manualProtectFlags
        self.ringMinEntries = ringMinEntries
    }

    /// Bytes of one ring entry (struct kvm_dirty_gfn: flags, slot, offset).
    public static let ringEntryBytes = 16
    /// KVM_DIRTY_RING_RSVD_ENTRIES: entries KVM keeps free so a vCPU can finish what it is doing
    /// after the ring reached its soft limit (size minus the reserve) and it was asked to exit.
    public static let reservedRingEntries = 64

    /// Entries of one vCPU's dirty ring at most.
    public var ringMaxEntries: Int { ringMaxBytes / Self.ringEntryBytes }

    /// The limits of the host session's KVM device (probed once, with the other `HostLimits`).
    public init(_ limits: HostLimits) {
        self.init(ringMaxBytes: limits.dirtyRingMaxBytes, manualProtectFlags: limits.manualDirtyLogProtectFlags,
                  ringMinEntries: max(Int(getpagesize()) / Self.ringEntryBytes, 2 * Self.reservedRingEntries))
    }
}

/// The dirty-logging parameters beyond the guest's shape.
public struct DirtyLoggingOptions: Sendable, Equatable {
    public var mode: DirtyLogMode
    /// Dirty passes after logging is enabled (each followed by a harvest).
    public var iterations: Int
    /// Entries of each vCPU's dirty ring (ring mode).
    public var ringEntries: Int
    /// Harvest in a loop while the vCPUs keep writing, for `duration` seconds, instead of passes.
    public var concurrent: Bool
    public var duration: Double
    /// vCPUs keep writing while dirty logging is being turned off.
    public var keepRunningOnDisable: Bool
    /// `--populate`: the populate phase is the guest's write pass or KVM_PRE_FAULT_MEMORY.
    public var populate: PopulateMethod = .guest

    public init(mode: DirtyLogMode = .bitmap, iterations: Int = 2, ringEntries: Int = 4096, concurrent: Bool = false,
                duration: Double = 2, keepRunningOnDisable: Bool = false) {
        self.mode = mode
        self.iterations = iterations
        self.ringEntries = ringEntries
        self.concurrent = concurrent
        self.duration = duration
        self.keepRunningOnDisable = keepRunningOnDisable
    }

    public static let maximumIterations = 1000
    public static let maximumDuration = 3600.0

    /// The first problem with these options on a host with `limits`, as one line naming the flag,
    /// what is allowed and the host's limit; nil when they are fine. Pure: tests pass made-up limits.
    public func problem(limits: DirtyLogLimits) -> String? {
        if iterations < 2 || iterations > Self.maximumIterations {
            return "--iterations \(iterations) is out of range: allowed 2...\(Self.maximumIterations) (the first pass after enabling pays for the write protection set up by enabling; later passes measure the steady state, so at least 2)"
        }
        if concurrent && !(duration > 0 && duration <= Self.maximumDuration) {
            return "--duration \(duration) is out of range: allowed more than 0 and at most \(Int(Self.maximumDuration)) seconds"
        }
        switch mode {
        case .bitmap:
            break
        case .manual, .manualInitiallySet:
            let needed = mode == .manual ? 1 : 3
            if limits.manualProtectFlags & needed != needed {
                return "--dirty-mode \(mode.rawValue) needs KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 with flags \(hex(needed)), and this host offers \(hex(limits.manualProtectFlags)); use --dirty-mode bitmap"
            }
        case .ring:
            let maximum = limits.ringMaxEntries
            if maximum == 0 {
                return "--dirty-mode ring needs KVM_CAP_DIRTY_LOG_RING or KVM_CAP_DIRTY_LOG_RING_ACQ_REL, and this host has neither (KVM_CHECK_EXTENSION returned 0); use --dirty-mode bitmap or manual"
            }
            let minimum = limits.ringMinEntries
            let allowed = "allowed a power of two from \(minimum) to \(maximum) entries (this host's KVM_CAP_DIRTY_LOG_RING max is \(limits.ringMaxBytes) bytes = \(maximum) entries of \(DirtyLogLimits.ringEntryBytes) bytes)"
            if ringEntries <= 0 || ringEntries & (ringEntries - 1) != 0 {
                return "--ring-size \(ringEntries) is not a power of two: \(allowed)"
            }
            if ringEntries < minimum {
                return "--ring-size \(ringEntries) is too small: KVM wants at least one host page per ring and more than its \(DirtyLogLimits.reservedRingEntries) reserved entries; \(allowed)"
            }
            if ringEntries > maximum {
                return "--ring-size \(ringEntries) is above this host's maximum: \(allowed)"
            }
        }
        return nil
    }

    /// As recorded in results.
    public var recorded: [String: String] {
        var out = ["dirty_mode": mode.rawValue, "concurrent": "\(concurrent)",
                   "keep_running_on_disable": "\(keepRunningOnDisable)"]
        if concurrent { out["duration"] = "\(duration)" } else { out["iterations"] = "\(iterations)" }
        if mode == .ring { out["ring_size"] = "\(ringEntries)" }
        if populate != .guest { out["populate"] = populate.rawValue }
        return out
    }
}

/// Dirty logging (the kernel selftests' dirty_log_perf_test), with every harvest verified.
///
/// The guest first writes all of its memory (populate), then the host enables dirty logging on
/// every test memslot. Each iteration the vCPUs write their memory again (each write stores the
/// iteration number in its page) and the host collects the dirty pages: with KVM_GET_DIRTY_LOG
/// (plus KVM_CLEAR_DIRTY_LOG in the manual modes) or by harvesting the vCPUs' dirty rings. Every
/// phase is timed on its own, as the selftest prints them. After each harvest the host walks the
/// test memory, outside any timed region, and fails the case if a page holding this iteration's
/// number is missing from what KVM reported. Finally logging is disabled and one more pass
/// ("rebuild") shows how the MMU recovers its huge mappings.
///
/// Under shadow paging (and the TDP MMU alike) enabling logging removes write access from every
/// mapping of the slot, so the first write to each page faults and is logged; huge mappings cannot
/// be kept while a slot is logged and are split into 4 KiB ones on write. Disabling logging zaps
/// the 4 KiB mappings that could be huge again (kvm_mmu_zap_collapsible_sptes); the next touch
/// rebuilds them.
public struct DirtyLoggingScenario: Scenario {
    public static let name = "dirty-logging"
    public static let summary = "dirty logging (bitmap, manual protect, dirty ring): enable, dirty, get/clear or harvest, disable; every harvest verified"
    public static let parameterTable = ParameterTable(GuestParameters.all + [
        mode, iterations, ringSize, concurrent, duration, keepRunningOnDisable, PopulateMethod.parameter,
    ])
    public static let mode = Parameter<DirtyLogMode>.choice(
        "dirty_mode", help: "how the host collects dirty pages: bitmap (KVM_GET_DIRTY_LOG), manual (+ KVM_CLEAR_DIRTY_LOG), manual-initially-set, ring (KVM_CAP_DIRTY_LOG_RING)",
        default: .bitmap, valueName: "mode")
    public static let iterations = Parameter<Int>.int(
        "iterations", help: "dirty passes after logging is enabled", default: 2,
        allowed: "2...\(DirtyLoggingOptions.maximumIterations)")
    public static let ringSize = Parameter<Int>.int(
        "ring_size", help: "dirty ring entries per vCPU (ring mode)", default: 4096,
        allowed: "a power of two from 256 (one 4 KiB page) to the host maximum", valueName: "entries")
    public static let concurrent = Parameter<Bool>.bool(
        "concurrent", help: "harvest in a loop while the vCPUs keep writing, for --duration, instead of iterations")
    public static let duration = Parameter<Double>(
        "duration", help: "seconds of the concurrent harvest loop, e.g. 2, 2s, 500ms", form: .option(valueName: "duration"),
        allowed: "more than 0, at most \(Int(DirtyLoggingOptions.maximumDuration))s", default: 2,
        parse: { text, flag throws(ParameterError) in
            // "2", "2s" and "500ms" alike, as --duration reads everywhere else.
            guard let nanos = parseDuration(text, plainUnit: 1e9) else {
                throw ParameterError("\(flag) \(text): not a duration (examples: 2, 2s, 500ms)")
            }
            return Double(nanos) / 1e9
        },
        format: { "\($0)" })
    public static let keepRunningOnDisable = Parameter<Bool>.bool(
        "keep_running_on_disable", help: "vCPUs keep writing while dirty logging is turned off")

    public var guest: GuestConfiguration
    public var options: DirtyLoggingOptions
    /// Test hook: drop one harvested page before the check, which must then fail.
    var dropOneHarvestedPage = false
    /// Test hook: the last pass's harvest gains one page the guest did not write.
    var addOneHarvestedPage = false

    public init(guest: GuestConfiguration, options: DirtyLoggingOptions) {
        self.guest = guest
        self.options = options
    }

    public init(parameters: ParameterSet, limits: HostLimits) throws(ParameterError) {
        try self.init(parameters: parameters, limits: limits, dirtyLimits: DirtyLogLimits(limits))
    }

    /// Validates against given dirty-log limits (tests simulate hosts without a capability).
    public init(parameters: ParameterSet, limits: HostLimits, dirtyLimits: DirtyLogLimits) throws(ParameterError) {
        let p = try Self.bind(parameters)
        guest = try GuestConfiguration(parameters: p, limits: limits)
        if guest.slots > limits.usableSlots {
            throw ParameterError("--slots \(guest.slots) is above this host's limit of \(limits.usableSlots) (KVM_CAP_NR_MEMSLOTS = \(limits.memslots), one slot is kvmbench's own)")
        }
        var options = DirtyLoggingOptions(
            mode: try p.value(Self.mode), iterations: try p.value(Self.iterations), ringEntries: try p.value(Self.ringSize),
            concurrent: try p.value(Self.concurrent), duration: try p.value(Self.duration),
            keepRunningOnDisable: try p.value(Self.keepRunningOnDisable))
        if let problem = options.problem(limits: dirtyLimits) { throw ParameterError(problem) }
        options.populate = try p.value(PopulateMethod.parameter)
        if options.populate == .preFault && !guest.hostPrefault {
            throw ParameterError("--populate pre-fault needs --host-prefault for dirty-logging: KVM_PRE_FAULT_MEMORY maps as a read, so never-written memory would map the zero page and the first dirty pass would pay for allocating every page instead of for dirty logging")
        }
        self.options = options
    }

    public var parameters: [String: String] { guest.recorded.merging(options.recorded) { _, new in new } }

    public var notices: [String] {
        var out: [String] = []
        if options.mode == .ring && !options.concurrent && UInt64(options.ringEntries) < guest.pagesPerVCPU {
            out.append("ring of \(options.ringEntries) entries is smaller than the \(guest.pagesPerVCPU) pages a vCPU writes per pass: expect KVM_EXIT_DIRTY_RING_FULL exits inside the dirty passes")
        }
        return out
    }

    public func measure(in context: CaseContext) throws -> Sample {
        if guest.backing == .guestMemfd { throw ScenarioUnsupported("dirty-logging on guest-memfd: \(GuestMemfdSupport.noDirtyLogging)") }
        let session = try DirtyLogSession(guest: guest, options: options, context: context)
        session.dropOneHarvestedPage = dropOneHarvestedPage
        session.addOneHarvestedPage = addOneHarvestedPage
        return options.concurrent ? try session.measureConcurrent() : try session.measureIterations()
    }
}

/// A dirty-log check that failed: a page the guest wrote but KVM did not report (`missed`), or a
/// page KVM reported although the guest did not write it since the previous clear (`extra`; for
/// manual-initially-set also a first harvest that was not all ones).
public struct DirtyLogMismatch: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable { case missed, extra }
    public var kind: Kind
    public var guestPhysicalAddress: UInt64
    /// The pass whose harvest was checked; 0 for the concurrent run.
    public var pass: Int
    /// `--concurrent`: the harvest (from 1) that had to report the page; nil for the per-pass checks.
    public var harvest: Int?
    /// `--concurrent`: the write raced the previous harvest, so that one or this one had to report it.
    public var racedPreviousHarvest: Bool
    public var mode: DirtyLogMode

    public init(_ kind: Kind, guestPhysicalAddress: UInt64, pass: Int, harvest: Int? = nil, racedPreviousHarvest: Bool = false,
                mode: DirtyLogMode) {
        self.kind = kind
        self.guestPhysicalAddress = guestPhysicalAddress
        self.pass = pass
        self.harvest = harvest
        self.racedPreviousHarvest = racedPreviousHarvest
        self.mode = mode
    }

    public var description: String {
        let page = "page at GPA \(hex(guestPhysicalAddress))"
        switch (kind, harvest) {
        case (.missed, let harvest?) where racedPreviousHarvest:
            return "dirty log missed \(page), written while concurrent harvest \(harvest - 1) ran and reported by neither it nor harvest \(harvest) (dirty mode \(mode.rawValue))"
        case (.missed, let harvest?):
            return "dirty log missed \(page), written after concurrent harvest \(harvest - 1) and before harvest \(harvest), which did not report it (dirty mode \(mode.rawValue))"
        case (.missed, nil):
            return "dirty log missed \(page), written in pass \(pass) (dirty mode \(mode.rawValue))"
        case (.extra, _):
            return "dirty log reported \(page) in pass \(pass), which the guest did not write since the previous clear (dirty mode \(mode.rawValue))"
        }
    }
}

/// The per-harvest check of `--concurrent` mode, made while the vCPUs keep writing.
///
/// Every pass writes a token of its own (`GuestVM.startContinuous(passTokenTag:)`: tag, vCPU,
/// pass number) at the start of each page it writes, so a page's first 8 bytes change with every
/// pass that writes it. Around each harvest the harvester scans the test memory twice: right
/// before collecting (`beforeHarvest`) and right after the clear or ring reset (`afterHarvest`).
/// A page whose first 8 bytes changed
///   - between the scan after harvest k-1 and the scan before harvest k was written after harvest
///     k-1 had re-protected it and before harvest k began: harvest k must report it;
///   - between the two scans of harvest k was written while harvest k ran (the write raced it):
///     harvest k or harvest k+1 must report it.
/// Only harvests made after the write count, so a re-dirty KVM lost after an earlier report of the
/// same page fails, which the union of all harvests cannot show. A write that raced harvest k and
/// that harvest k missed is indistinguishable from one that came after it, so harvest k+1 may
/// report it; a page reported by neither fails. (With `--access random` a page written twice in
/// one pass keeps one token: the second write is held to the first one's harvest.)
/// Pages reported but never written are the final union check's (`checkExact`).
public struct ConcurrentHarvestCheck: Sendable {
    public let pages: Int
    let testBase: UInt64
    let mode: DirtyLogMode
    /// Each page's first 8 bytes at the last scan.
    private var seen: [UInt64]
    /// Pages the next harvest must report, and those of them that raced the previous harvest.
    private var due: [UInt64]
    private var raced: [UInt64]
    /// Harvests checked so far.
    public private(set) var harvests = 0

    /// `memory`: the test memory (pages of 4 KiB), scanned once here, before the vCPUs run.
    public init(memory: TestMemoryView, pages: Int, testBase: UInt64, mode: DirtyLogMode) {
        self.pages = pages
        self.testBase = testBase
        self.mode = mode
        let words = (pages + 63) / 64
        seen = (0..<pages).map { memory.load(page: $0) }
        due = [UInt64](repeating: 0, count: words)
        raced = [UInt64](repeating: 0, count: words)
    }

    /// ORs into `into` every page whose first 8 bytes changed since the last scan, and remembers
    /// the new values. The vCPUs may be writing: each aligned 8-byte load sees a whole token.
    private static func scanChanges(_ memory: TestMemoryView, pages: Int, seen: inout [UInt64], into bits: inout [UInt64]) {
        for page in 0..<pages {
            let value = memory.load(page: page)
            if value != seen[page] {
                seen[page] = value
                bits[page >> 6] |= 1 << UInt64(page & 63)
            }
        }
    }

    /// Right before harvest k collects: pages written since the scan after harvest k-1 are due.
    public mutating func beforeHarvest(memory: TestMemoryView) {
        Self.scanChanges(memory, pages: pages, seen: &seen, into: &due)
    }

    /// The first page harvest k must report that `harvest` holds, or nil (tests drop it).
    public func firstDuePage(in harvest: [UInt64]) -> Int? {
        DirtyLogVerification.firstMissingPage(written: due, harvested: harvest.map { ~$0 })
    }

    /// Right after harvest k's clear or reset, with the pages it reported (bit i = test page i):
    /// throws `DirtyLogMismatch` (missed) for the first due page it lacks; then pages written
    /// while it ran and not in it become due for harvest k+1.
    public mutating func afterHarvest(_ harvest: [UInt64], memory: TestMemoryView) throws(DirtyLogMismatch) {
        harvests += 1
        if let page = DirtyLogVerification.firstMissingPage(written: due, harvested: harvest) {
            throw DirtyLogMismatch(.missed, guestPhysicalAddress: testBase + UInt64(page) * 4096, pass: 0, harvest: harvests,
                                   racedPreviousHarvest: raced[page >> 6] & (1 << UInt64(page & 63)) != 0, mode: mode)
        }
        var during = [UInt64](repeating: 0, count: due.count)
        Self.scanChanges(memory, pages: pages, seen: &seen, into: &during)
        for word in due.indices {
            due[word] = during[word] & ~(word < harvest.count ? harvest[word] : 0)
            raced[word] = due[word]
        }
    }

    /// After the last harvest, made with every vCPU parked: nothing may still be due.
    public func finish() throws(DirtyLogMismatch) {
        if let page = DirtyLogVerification.firstMissingPage(written: due, harvested: []) {
            throw DirtyLogMismatch(.missed, guestPhysicalAddress: testBase + UInt64(page) * 4096, pass: 0, harvest: harvests + 1,
                                   racedPreviousHarvest: true, mode: mode)
        }
    }
}

/// The check every harvest goes through, kept pure so tests can feed it corrupted sets.
public enum DirtyLogVerification {
    /// The first page harvested but not written, or nil when `written` covers `harvested`.
    public static func firstExtraPage(written: [UInt64], harvested: [UInt64]) -> Int? {
        firstMissingPage(written: harvested, harvested: written)
    }

    /// A bitmap with the first `pages` bits set: what KVM reports before the first clear under
    /// KVM_DIRTY_LOG_INITIALLY_SET.
    public static func allPages(_ pages: Int, words: Int) -> [UInt64] {
        (0..<words).map { word in
            let remaining = pages - word * 64
            return remaining >= 64 ? UInt64.max : (remaining <= 0 ? 0 : (1 << UInt64(remaining)) - 1)
        }
    }

    /// The exact check: `harvested` must be `expected`, the pages written since the previous
    /// clear. Throws `DirtyLogMismatch` (missed) for the first page missing, (extra) for the first
    /// page reported in excess.
    public static func checkExact(expected: [UInt64], harvested: [UInt64], testBase: UInt64, pass: Int,
                                  mode: DirtyLogMode) throws {
        try check(written: expected, harvested: harvested, testBase: testBase, pass: pass, mode: mode)
        if let page = firstExtraPage(written: expected, harvested: harvested) {
            throw DirtyLogMismatch(.extra, guestPhysicalAddress: testBase + UInt64(page) * 4096, pass: pass, mode: mode)
        }
    }

    /// Both sets are bitmaps over the test memory's 4 KiB pages (bit i = page i). Returns the
    /// first page written but not harvested, or nil when `harvested` covers `written`.
    public static func firstMissingPage(written: [UInt64], harvested: [UInt64]) -> Int? {
        for index in written.indices {
            let missing = written[index] & ~(index < harvested.count ? harvested[index] : 0)
            if missing != 0 { return index * 64 + missing.trailingZeroBitCount }
        }
        return nil
    }

    /// Throws `DirtyLogMismatch` (missed) with the GPA of the first written page KVM did not report.
    public static func check(written: [UInt64], harvested: [UInt64], testBase: UInt64, pass: Int,
                             mode: DirtyLogMode) throws(DirtyLogMismatch) {
        if let page = firstMissingPage(written: written, harvested: harvested) {
            throw DirtyLogMismatch(.missed, guestPhysicalAddress: testBase + UInt64(page) * 4096, pass: pass, mode: mode)
        }
    }

    /// Sets bit i of `written` for every page i of `memory` (4 KiB pages) whose first 8 bytes equal
    /// `token` in the bits of `mask` (all of them by default), and returns how many there were.
    /// `written` is cleared first.
    public static func scanWritten(memory: TestMemoryView, pages: Int, token: UInt64, mask: UInt64 = .max,
                                   into written: inout [UInt64]) -> Int {
        memory.scanPages(forToken: token, mask: mask, pages: pages, into: &written)
    }

    /// Number of set bits.
    public static func population(_ bits: [UInt64]) -> Int { bits.reduce(0) { $0 + $1.nonzeroBitCount } }
}
