import Parameters
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
    /// `--guest-ad-bits`: Accessed/Dirty preset in the guest's page tables (as Linux guests have them) or clear.
    public var guestADBits: GuestADBits = .preset
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

    /// The first problem with this configuration on a host with these limits, as a one-line
    /// message that says what is wrong, what is allowed, and the host's limit. Checked before any VM exists.
    public func problem(limits: HostLimits) -> String? {
        if vcpus < 1 { return "--vcpus must be at least 1 (got \(vcpus))" }
        if vcpus > min(limits.maxVCPUs, GuestLayout.maxVCPUs) {
            return "--vcpus \(vcpus) is above this host's limit of \(min(limits.maxVCPUs, GuestLayout.maxVCPUs)) (KVM_CAP_MAX_VCPUS = \(limits.maxVCPUs))"
        }
        if memoryPerVCPU == 0 { return "--mem-per-vcpu must be larger than 0" }
        // The guest identity-maps its test memory from 4 GiB up to the 47-bit canonical limit.
        let mappable = (UInt64(1) << 47) - GuestLayout.defaultTestBase
        let (total, overflow) = memoryPerVCPU.multipliedReportingOverflow(by: sharedRegion ? 1 : UInt64(vcpus))
        let tooLarge = "--mem-per-vcpu \(formatSize(memoryPerVCPU)) x --vcpus \(vcpus) is more guest memory than kvmbench's guest can map (at most \(formatBytes(mappable)) in all)"
        if overflow || total > 1 << 60 { return tooLarge }
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
        if total > mappable { return tooLarge }
        return nil
    }
}

import Foundation
