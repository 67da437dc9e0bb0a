import CKVM
import Glibc
import SystemPackage

/// Why /dev/kvm could not be used. Kept apart from `KVMError` because the CLI gives it its own
/// exit status and a hint rather than an ioctl name.
public enum KVMUnavailable: Error, CustomStringConvertible, Sendable {
    case missing(path: String)
    case permissionDenied(path: String)
    case unexpectedAPIVersion(Int32)
    case openFailed(path: String, errno: Errno)

    public var description: String {
        switch self {
        case .missing(let path):
            "\(path) does not exist: this host has no KVM (load kvm_intel, kvm_amd or kvm_pvm, or run on a host with virtualization enabled)"
        case .permissionDenied(let path):
            "no permission to open \(path) read-write: run as root or as a member of the group that owns it (usually 'kvm')"
        case .unexpectedAPIVersion(let version):
            "KVM_GET_API_VERSION returned \(version); kvmbench needs the stable API, version 12"
        case .openFailed(let path, let errno):
            "cannot open \(path): \(errno.symbolicName) (\(errno))"
        }
    }
}

/// The KVM subsystem: an open /dev/kvm. Answers capability queries and creates VMs.
///
/// Wraps the "system ioctls" of the KVM API document (section 4, class "system").
public struct KVMSystem: ~Copyable, Sendable {
    public let fd: FileDescriptor
    /// Size of the mmap'd area of every vCPU fd (KVM_GET_VCPU_MMAP_SIZE), handed down to vCPUs.
    public let vcpuMmapSize: Int

    /// Opens `path` (normally /dev/kvm) and checks the API version is 12.
    public init(path: String = "/dev/kvm") throws(KVMUnavailable) {
        let raw = open(path, O_RDWR | O_CLOEXEC)
        guard raw >= 0 else {
            let error = Errno(rawValue: Glibc.errno)
            switch error {
            case .noSuchFileOrDirectory, .noSuchAddressOrDevice, Errno(rawValue: Glibc.ENODEV): throw .missing(path: path)
            case .permissionDenied, .notPermitted: throw .permissionDenied(path: path)
            default: throw .openFailed(path: path, errno: error)
            }
        }
        let version = ckvm_ioctl_val(raw, CKVM_GET_API_VERSION, 0)
        guard version == KVM_API_VERSION else {
            close(raw)
            throw .unexpectedAPIVersion(version)
        }
        vcpuMmapSize = Int(ckvm_ioctl_val(raw, CKVM_GET_VCPU_MMAP_SIZE, 0))
        fd = FileDescriptor(rawValue: raw)
    }

    deinit { try? fd.close() }

    /// True when `path` exists and this process may open it read-write (used to skip tests).
    public static func isUsable(path: String = "/dev/kvm") -> Bool {
        access(path, R_OK | W_OK) == 0
    }

    /// KVM_GET_API_VERSION.
    public var apiVersion: Int { Int(ckvm_ioctl_val(fd.rawValue, CKVM_GET_API_VERSION, 0)) }

    /// KVM_CHECK_EXTENSION on /dev/kvm: 0 when unsupported, else a capability-specific value.
    public func check(_ capability: Capability) -> Int {
        Int(max(0, ckvm_ioctl_val(fd.rawValue, CKVM_CHECK_EXTENSION, UInt(capability.rawValue))))
    }

    /// KVM_CREATE_VM with machine type 0 (the default x86 VM).
    public func createVM(type: UInt = 0) throws(KVMError) -> VirtualMachine {
        let vmfd = try retryingOnInterrupt("KVM_CREATE_VM", "type \(type)") {
            ckvm_ioctl_val(fd.rawValue, CKVM_CREATE_VM, type)
        }
        return VirtualMachine(fd: FileDescriptor(rawValue: vmfd), vcpuMmapSize: vcpuMmapSize)
    }

    /// KVM_GET_SUPPORTED_CPUID: the CPUID leaves KVM can present to a guest.
    public func supportedCPUID() throws(KVMError) -> CPUID {
        var cpuid = CPUID(capacity: 256)
        _ = try retryingOnInterrupt("KVM_GET_SUPPORTED_CPUID", "256 entries") {
            cpuid.withUnsafeMutablePointer { ckvm_ioctl_ptr(fd.rawValue, CKVM_GET_SUPPORTED_CPUID, $0) }
        }
        return cpuid
    }
}

/// A kvm_cpuid2 with its trailing array of entries, as KVM_GET_SUPPORTED_CPUID and KVM_SET_CPUID2 use it.
public struct CPUID: Sendable {
    private var storage: [UInt8]

    init(capacity: Int) {
        storage = [UInt8](repeating: 0, count: MemoryLayout<kvm_cpuid2>.size + capacity * MemoryLayout<kvm_cpuid_entry2>.stride)
        storage.withUnsafeMutableBytes { $0.storeBytes(of: UInt32(capacity), as: UInt32.self) }
    }

    /// Runs `body` with a pointer to the kvm_cpuid2 header followed by its entries.
    mutating func withUnsafeMutablePointer<R>(_ body: (UnsafeMutableRawPointer) -> R) -> R {
        // SAFETY: storage is sized for the header plus `nent` entries and outlives the call.
        storage.withUnsafeMutableBytes { body($0.baseAddress!) }
    }

    /// The entries KVM filled in.
    public var entries: [kvm_cpuid_entry2] {
        storage.withUnsafeBytes { raw in
            let count = Int(raw.load(as: UInt32.self))
            let start = MemoryLayout<kvm_cpuid2>.size
            return (0..<count).map {
                raw.loadUnaligned(fromByteOffset: start + $0 * MemoryLayout<kvm_cpuid_entry2>.stride, as: kvm_cpuid_entry2.self)
            }
        }
    }

    /// The entry for `function` (and `index`), if present.
    public func entry(function: UInt32, index: UInt32 = 0) -> kvm_cpuid_entry2? {
        entries.first { $0.function == function && $0.index == index }
    }
}
