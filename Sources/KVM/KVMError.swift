import SystemPackage
import Glibc

/// A KVM ioctl (or a system call KVM depends on) that failed: which call, the arguments that
/// matter, and the errno the kernel returned.
public struct KVMError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The ioctl or system call, as the KVM API document names it (`KVM_SET_USER_MEMORY_REGION`).
    public var operation: String
    /// The arguments that explain the failure (`slot 3, gpa 0x100000000, size 64 MiB`).
    public var arguments: String
    public var errno: Errno

    public init(_ operation: String, _ arguments: String = "", errno: Errno) {
        self.operation = operation
        self.arguments = arguments
        self.errno = errno
    }

    public var description: String {
        let args = arguments.isEmpty ? "" : "(\(arguments))"
        return "\(operation)\(args) failed: \(errno.symbolicName) (\(errno))"
    }
}

extension Errno {
    /// The C macro name of the errno (`EEXIST`), which is what kernel developers search for.
    public var symbolicName: String {
        switch self {
        case .permissionDenied: "EACCES"
        case .notPermitted: "EPERM"
        case .fileExists: "EEXIST"
        case .invalidArgument: "EINVAL"
        case .noSuchFileOrDirectory: "ENOENT"
        case .noMemory: "ENOMEM"
        case .badFileDescriptor: "EBADF"
        case .interrupted: "EINTR"
        case .resourceTemporarilyUnavailable: "EAGAIN"
        case .noSpace: "ENOSPC"
        case .notSupported: "EOPNOTSUPP"
        case .inappropriateIOCTLForDevice: "ENOTTY"
        case Errno(rawValue: Glibc.ENODEV): "ENODEV"
        case .resourceBusy: "EBUSY"
        case .badAddress: "EFAULT"
        case .tooManyOpenFiles: "EMFILE"
        case .outOfRange: "ERANGE"
        default: "errno \(rawValue)"
        }
    }
}

/// Calls `body` until it stops failing with EINTR; turns a -1 return into a thrown `KVMError`.
@inline(__always)
func retryingOnInterrupt(_ operation: @autoclosure () -> String, _ arguments: @autoclosure () -> String = "",
                         _ body: () -> Int32) throws(KVMError) -> Int32 {
    while true {
        let result = body()
        if result >= 0 { return result }
        let error = Errno(rawValue: Glibc.errno)
        if error == .interrupted { continue }
        throw KVMError(operation(), arguments(), errno: error)
    }
}

/// Formats a byte count the way kernel developers write sizes: 64 MiB, 2 GiB, 4 KiB, 1234 B.
public func formatBytes(_ bytes: UInt64) -> String {
    let units: [(UInt64, String)] = [(1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
    for (size, name) in units where bytes >= size && bytes % size == 0 { return "\(bytes / size) \(name)" }
    for (size, name) in units where bytes >= size {
        let tenths = (bytes * 10 + size / 2) / size
        return "\(tenths / 10).\(tenths % 10) \(name)"
    }
    return "\(bytes) B"
}

/// Hexadecimal with a 0x prefix, for guest physical addresses.
public func hex<T: BinaryInteger>(_ value: T) -> String { "0x" + String(value, radix: 16) }
