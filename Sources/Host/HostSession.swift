import Foundation
import KVM
import Results

/// This host, opened once per kvmbench invocation: the KVM device (from `KVMBENCH_DEVICE`, else
/// /dev/kvm), the limits cases are validated against, and the fingerprint recorded with results.
/// Every VM of the invocation is created from `kvm`, so all of them use the same device.
public final class HostSession: Sendable {
    /// The device path that was opened.
    public let devicePath: String
    /// The open KVM device (system ioctls, VM creation). Thread-safe: each ioctl is independent.
    public let kvm: KVMSystem
    public let limits: HostLimits
    public let fingerprint: HostFingerprint

    /// Opens `devicePath` and reads the limits and the fingerprint.
    public init(devicePath: String) throws(KVMUnavailable) {
        let kvm = try KVMSystem(path: devicePath)
        self.devicePath = devicePath
        limits = HostProbe.limits(kvm: kvm)
        fingerprint = HostProbe.fingerprint(kvm: kvm)
        self.kvm = kvm
    }

    /// True when the run's device can be opened read-write (tests that run guests are enabled by it).
    public static var deviceUsable: Bool {
        KVMSystem.isUsable(path: devicePath(environment: ProcessInfo.processInfo.environment))
    }

    /// The device path a run uses: `KVMBENCH_DEVICE` when set, else /dev/kvm.
    public static func devicePath(environment: [String: String]) -> String {
        environment["KVMBENCH_DEVICE"] ?? "/dev/kvm"
    }
}
