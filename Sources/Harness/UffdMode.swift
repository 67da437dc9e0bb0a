import Backings
import Dispatch
import Foundation
import Glibc
import Histogram
import KVM
import SystemPackage

/// How guest page faults on the test memory are served (`--uffd`).
public enum UffdMode: String, CaseIterable, Sendable {
    /// No userfaultfd: the kernel allocates (or finds) the host page itself.
    case none
    /// UFFDIO_REGISTER_MODE_MISSING: a fault on a page with no backing page is handed to a host
    /// thread, which supplies the contents with UFFDIO_COPY (the post-copy live-migration path).
    case missing
    /// UFFDIO_REGISTER_MODE_MINOR: the page is already in the page cache of a shared mapping but
    /// has no page-table entry in the registered mapping; the host thread installs it with
    /// UFFDIO_CONTINUE. Needs shmem or hugetlbfs memory.
    case minor
}

/// The userfaultfd features `mode` needs on memory of `backing`, for UFFDIO_API.
func uffdFeatures(mode: UffdMode, backing: BackingKind) -> UserfaultfdFeatures {
    switch (mode, backing.isShared, backing.hugetlbPool != nil) {
    case (.minor, _, true): .minorHugetlbfs
    case (.minor, _, false): .minorShmem
    case (.missing, _, true): .missingHugetlbfs
    case (.missing, true, false): .missingShmem
    default: []
    }
}

extension UffdMode {
    var registration: UserfaultfdRegistration { self == .minor ? .minor : .missing }
}

extension Userfaultfd {
    /// Opens a userfaultfd with `features`; a host without userfaultfd, or without those
    /// features, makes the case unsupported.
    static func forScenario(features: UserfaultfdFeatures) throws(ScenarioUnsupported) -> Userfaultfd {
        do throws(KVMError) {
            return try Userfaultfd(features: features)
        } catch let error where error.operation == "userfaultfd" {
            throw ScenarioUnsupported("\(error) (needs CONFIG_USERFAULTFD, and root or vm.unprivileged_userfaultfd=1)")
        } catch {
            throw ScenarioUnsupported("\(error): this kernel lacks a userfaultfd feature the run needs")
        }
    }

    /// Registers [start, start+length) in `mode`; a range the kernel refuses, or one without the
    /// resolving ioctl, makes the case unsupported.
    func registerForScenario(_ start: UnsafeMutableRawPointer, length: UInt64, mode: UffdMode) throws(ScenarioUnsupported) {
        let offered: Bool
        do { offered = try register(start, length: length, mode: mode.registration) } catch {
            throw ScenarioUnsupported("\(error)")
        }
        guard offered else {
            throw ScenarioUnsupported("the kernel registered the range but offers no \(mode.registration.resolvingIoctl) on it")
        }
    }
}
