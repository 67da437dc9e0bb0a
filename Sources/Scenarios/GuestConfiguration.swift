import Backings
import Host
import GuestPrograms
import KVM

/// Order in which a vCPU visits its pages.
public enum AccessPattern: String, CaseIterable, Sendable {
    case sequential, random
}

/// The shape of a guest: vCPUs, memory and how it is backed and mapped, and the access pattern
/// of the workload. Every scenario starts from one.
public struct GuestConfiguration: Sendable, Equatable {
    public var vcpus: Int
    public var memoryPerVCPU: UInt64
    public var backing: BackingKind
    public var guestPageSize: GuestPageSize
    /// Memslots the test memory is split across (the last takes the remainder).
    public var slots: Int
    /// All vCPUs walk one region of `memoryPerVCPU` bytes instead of one region each.
    public var sharedRegion: Bool
    public var access: AccessPattern
    public var writePercent: Int
    public var seed: UInt64
    /// Let kvmbench grow hugetlb pools for this run (restored afterwards).
    public var reserveHugepages: Bool
    /// Touch the host backing before the guest runs, so guest faults find host pages present.
    public var hostPrefault: Bool
    /// Seconds a vCPU may go without progress before the watchdog stops it and fails the case.
    /// Not a parameter of the measurement, so not recorded with the results.
    public var timeoutSeconds: Double = GuestConfiguration.defaultTimeoutSeconds
    /// `--case-timeout`: set once by the command line before any case runs.
    nonisolated(unsafe) public static var defaultTimeoutSeconds: Double = 120
    /// `--pin`: which CPUs the vCPU threads (and the main thread) run on.
    public var pin: PinPolicy = .none
    /// `--numa-node` / `--numa-interleave`: the memory policy of the test memory (nil: the default policy).
    public var numa: NUMAPolicy? = nil

    public init(vcpus: Int = 1, memoryPerVCPU: UInt64 = 64 << 20, backing: BackingKind = .anonymous4k,
                guestPageSize: GuestPageSize = .size4k, slots: Int = 1, sharedRegion: Bool = false,
                access: AccessPattern = .sequential, writePercent: Int = 100, seed: UInt64 = 1,
                reserveHugepages: Bool = false, hostPrefault: Bool = false) {
        self.vcpus = vcpus
        self.memoryPerVCPU = memoryPerVCPU
        self.backing = backing
        self.guestPageSize = guestPageSize
        self.slots = slots
        self.sharedRegion = sharedRegion
        self.access = access
        self.writePercent = writePercent
        self.seed = seed
        self.reserveHugepages = reserveHugepages
        self.hostPrefault = hostPrefault
    }

    /// Bytes of test memory in the guest.
    public var testSize: UInt64 { sharedRegion ? memoryPerVCPU : memoryPerVCPU * UInt64(vcpus) }

    /// 4 KiB pages each vCPU touches per pass.
    public var pagesPerVCPU: UInt64 { memoryPerVCPU / 4096 }

    /// The parameters as recorded in results (`vcpus: "4"`, `backing: "thp"`, ...).
    public var recorded: [String: String] {
        [
            "vcpus": "\(vcpus)", "mem_per_vcpu": formatSize(memoryPerVCPU), "backing": backing.rawValue,
            "guest_page_size": guestPageSize.rawValue, "slots": "\(slots)", "access": access.rawValue,
            "write_percent": "\(writePercent)", "shared_region": "\(sharedRegion)",
            "host_prefault": "\(hostPrefault)", "seed": "\(seed)",
        ].merging(recordedPlacement) { $1 }
    }

    /// The first problem with this configuration on a host with these limits, as a one-line
    /// message that says what is wrong, what is allowed, and the host's limit. Checked before any VM exists.
    public func problem(limits: HostLimits) -> String? {
        if vcpus < 1 { return "--vcpus must be at least 1 (got \(vcpus))" }
        if vcpus > min(limits.maxVCPUs, GuestLayout.maxVCPUs) {
            return "--vcpus \(vcpus) is above this host's limit of \(min(limits.maxVCPUs, GuestLayout.maxVCPUs)) (KVM_CAP_MAX_VCPUS = \(limits.maxVCPUs))"
        }
        if memoryPerVCPU == 0 { return "--mem-per-vcpu must be larger than 0" }
        if memoryPerVCPU % backing.pageSize != 0 {
            return "--mem-per-vcpu \(formatSize(memoryPerVCPU)) is not a multiple of the \(backing.rawValue) page size (\(formatBytes(backing.pageSize)))"
        }
        if memoryPerVCPU % guestPageSize.bytes != 0 {
            return "--guest-page-size \(guestPageSize.rawValue) needs --mem-per-vcpu to be a multiple of \(formatBytes(guestPageSize.bytes)) (got \(formatSize(memoryPerVCPU)))"
        }
        if writePercent < 0 || writePercent > 100 { return "--write-percent must be within 0...100 (got \(writePercent))" }
        if slots < 1 { return "--slots must be at least 1 (got \(slots))" }
        let needed = testSize + testSize / 256 + (64 << 20)
        if let available = limits.memAvailable, needed > available {
            return "this run needs about \(formatBytes(needed)) of memory (guest \(formatBytes(testSize)) plus page tables and kvmbench), and the host has \(formatBytes(available)) available (MemAvailable); lower --vcpus or --mem-per-vcpu"
        }
        return nil
    }
}

/// "256M", "2G", "4K": the size syntax of the command line.
public func formatSize(_ bytes: UInt64) -> String {
    for (unit, suffix) in [(UInt64(1) << 40, "T"), (1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")] where bytes >= unit && bytes % unit == 0 {
        return "\(bytes / unit)\(suffix)"
    }
    return "\(bytes)"
}

/// Parses "256M", "2G", "4096", "1.5G" (binary units) into bytes.
public func parseSize(_ text: String) -> UInt64? {
    let trimmed = text.trimmingCharacters(in: .whitespaces).uppercased()
    guard let last = trimmed.last else { return nil }
    let multipliers: [Character: Double] = ["K": 1024, "M": 1_048_576, "G": 1_073_741_824, "T": 1_099_511_627_776]
    var number = trimmed
    var multiplier = 1.0
    if let m = multipliers[last] {
        multiplier = m
        number.removeLast()
        if number.hasSuffix("I") { number.removeLast() } // "256MiB" -> "256M" handled below
    } else if trimmed.hasSuffix("IB"), let m = multipliers[trimmed.dropLast(2).last ?? " "] {
        multiplier = m
        number = String(trimmed.dropLast(3))
    }
    // Above UInt64.max (or "inf") is no size; UInt64(_:) would trap on it.
    guard let value = Double(number), value >= 0, value * multiplier < 0x1p64 else { return nil }
    return UInt64(value * multiplier)
}

import Foundation
