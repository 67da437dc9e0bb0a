import CKVM
import Glibc
import SystemPackage

/// userfaultfd uapi values linux/userfaultfd.h defines with casts, which Swift cannot import.
enum UffdABI {
    /// UFFD_API: the only API version there is.
    static let api: UInt64 = 0xAA
    /// UFFD_EVENT_PAGEFAULT.
    static let eventPagefault: UInt8 = 0x12
    /// UFFD_PAGEFAULT_FLAG_WRITE.
    static let flagWrite: UInt64 = 1 << 0
}

/// Features asked for in the UFFDIO_API handshake (uffdio_api.features).
public struct UserfaultfdFeatures: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// UFFD_FEATURE_MISSING_HUGETLBFS: missing-mode registration of hugetlbfs mappings.
    public static let missingHugetlbfs = UserfaultfdFeatures(rawValue: UInt64(UFFD_FEATURE_MISSING_HUGETLBFS))
    /// UFFD_FEATURE_MISSING_SHMEM: missing-mode registration of shmem mappings.
    public static let missingShmem = UserfaultfdFeatures(rawValue: UInt64(UFFD_FEATURE_MISSING_SHMEM))
    /// UFFD_FEATURE_MINOR_HUGETLBFS: minor-mode registration of hugetlbfs mappings (5.13).
    public static let minorHugetlbfs = UserfaultfdFeatures(rawValue: UInt64(UFFD_FEATURE_MINOR_HUGETLBFS))
    /// UFFD_FEATURE_MINOR_SHMEM: minor-mode registration of shmem mappings (5.14).
    public static let minorShmem = UserfaultfdFeatures(rawValue: UInt64(UFFD_FEATURE_MINOR_SHMEM))
}

/// How a range is registered (uffdio_register.mode), and so which ioctl resolves its faults.
public enum UserfaultfdRegistration: Sendable {
    /// UFFDIO_REGISTER_MODE_MISSING: faults on pages with no backing page; resolved by UFFDIO_COPY
    /// (or UFFDIO_ZEROPAGE).
    case missing
    /// UFFDIO_REGISTER_MODE_MINOR: faults on pages in the page cache but not in the page tables;
    /// resolved by UFFDIO_CONTINUE.
    case minor

    var modeBits: UInt64 { self == .minor ? UInt64(CUFFDIO_REGISTER_MODE_MINOR) : UInt64(CUFFDIO_REGISTER_MODE_MISSING) }
    /// The bit of uffdio_register.ioctls (1 << _UFFDIO_*) for the resolving ioctl.
    var resolvingIoctlBit: UInt64 { self == .minor ? 1 << 0x07 : 1 << 0x03 }
    /// The name of the resolving ioctl, for messages.
    public var resolvingIoctl: String { self == .minor ? "UFFDIO_CONTINUE" : "UFFDIO_COPY" }
}

/// A userfaultfd: the fd from userfaultfd(2), after the UFFDIO_API handshake. Closing it (when the
/// owner goes away) unregisters every range it had and wakes any thread still blocked in a fault
/// on them, which then retries the fault without userfaultfd.
///
/// The fd is opened without UFFD_USER_MODE_ONLY: KVM resolves guest faults with get_user_pages()
/// from the vCPU thread in kernel mode, and such faults must reach the handler too.
public struct Userfaultfd: ~Copyable {
    let fd: FileDescriptor
    /// Features the kernel granted (uffdio_api.features after UFFDIO_API).
    public let features: UserfaultfdFeatures

    /// userfaultfd(O_CLOEXEC | O_NONBLOCK, so several readers can share it), then UFFDIO_API
    /// asking for `features`. Throws the failing call (userfaultfd or UFFDIO_API) and its errno.
    public init(features requested: UserfaultfdFeatures) throws(KVMError) {
        let raw = ckvm_userfaultfd(O_CLOEXEC | O_NONBLOCK)
        guard raw >= 0 else { throw KVMError("userfaultfd", "O_CLOEXEC | O_NONBLOCK", errno: Errno(rawValue: Glibc.errno)) }
        var api = uffdio_api(api: UffdABI.api, features: requested.rawValue, ioctls: 0)
        guard ckvm_ioctl_ptr(raw, CUFFDIO_API, &api) == 0 else {
            let error = Errno(rawValue: Glibc.errno)
            close(raw)
            throw KVMError("UFFDIO_API", "features \(hex(requested.rawValue))", errno: error)
        }
        fd = FileDescriptor(rawValue: raw)
        features = UserfaultfdFeatures(rawValue: api.features)
    }

    deinit { try? fd.close() }

    /// UFFDIO_REGISTER of [start, start+length). Returns whether the kernel offers the ioctl that
    /// resolves faults of `mode` (UFFDIO_COPY or UFFDIO_CONTINUE) on the range.
    public func register(_ start: UnsafeMutableRawPointer, length: UInt64, mode: UserfaultfdRegistration) throws(KVMError) -> Bool {
        var request = uffdio_register(range: uffdio_range(start: UInt64(UInt(bitPattern: start)), len: length),
                                      mode: mode.modeBits, ioctls: 0)
        guard ckvm_ioctl_ptr(fd.rawValue, CUFFDIO_REGISTER, &request) == 0 else {
            throw KVMError("UFFDIO_REGISTER", "\(mode == .minor ? "minor" : "missing"), \(formatBytes(length))", errno: Errno(rawValue: Glibc.errno))
        }
        return request.ioctls & mode.resolvingIoctlBit != 0
    }

    /// A handle for the reader threads that serve this userfaultfd.
    ///
    /// SAFETY: the handle holds the fd number only; it is valid while this owner lives. Owners
    /// stop every thread using a handle before they go away (`UffdService` joins its readers
    /// before it releases the `Userfaultfd`).
    public var handle: UserfaultfdHandle { UserfaultfdHandle(fd: fd.rawValue) }
}

/// What one read(2) of a userfaultfd gave.
public enum UserfaultfdRead: Sendable, Equatable {
    /// UFFD_EVENT_PAGEFAULT at `address` (not rounded), a write fault when `write`.
    case pagefault(address: UInt64, write: Bool)
    /// No message (EAGAIN: another reader took it) or EINTR.
    case empty
    /// A message of another event, or of an unexpected size.
    case unexpected(event: UInt8, bytes: Int)
    case failed(Errno)
}

/// The calls a handler thread makes on a userfaultfd it does not own (see `Userfaultfd.handle`).
/// None allocates or throws: the fault path reports errnos as values.
public struct UserfaultfdHandle: Sendable {
    let fd: Int32

    /// read(2) of one uffd_msg.
    @inline(__always)
    public func read() -> UserfaultfdRead {
        var message = uffd_msg()
        let size = MemoryLayout<uffd_msg>.size
        let count = Glibc.read(fd, &message, size)
        if count < 0 {
            let error = Glibc.errno
            return error == EAGAIN || error == EINTR ? .empty : .failed(Errno(rawValue: error))
        }
        guard count == size, message.event == UffdABI.eventPagefault else { return .unexpected(event: message.event, bytes: count) }
        return .pagefault(address: message.arg.pagefault.address, write: message.arg.pagefault.flags & UffdABI.flagWrite != 0)
    }

    /// UFFDIO_COPY of `length` bytes from `source` to `address` (which must be registered missing).
    /// Retries EAGAIN; nil on success, else the errno (EEXIST: the page is already there).
    @inline(__always)
    public func copy(to address: UInt64, from source: UnsafeRawPointer, length: UInt64) -> Errno? {
        retrying {
            var request = uffdio_copy(dst: address, src: UInt64(UInt(bitPattern: source)), len: length, mode: 0, copy: 0)
            return ckvm_ioctl_ptr(fd, CUFFDIO_COPY, &request)
        }
    }

    /// UFFDIO_CONTINUE: maps the page-cache pages of [address, address+length) (registered minor).
    @inline(__always)
    public func continueMapping(at address: UInt64, length: UInt64) -> Errno? {
        retrying {
            var request = uffdio_continue(range: uffdio_range(start: address, len: length), mode: 0, mapped: 0)
            return ckvm_ioctl_ptr(fd, CUFFDIO_CONTINUE, &request)
        }
    }

    /// UFFDIO_ZEROPAGE: maps the zero page (or zeroed pages) at [address, address+length).
    @inline(__always)
    public func zeropage(at address: UInt64, length: UInt64) -> Errno? {
        retrying {
            var request = uffdio_zeropage(range: uffdio_range(start: address, len: length), mode: 0, zeropage: 0)
            return ckvm_ioctl_ptr(fd, CUFFDIO_ZEROPAGE, &request)
        }
    }

    /// UFFDIO_WAKE: wakes every thread waiting on a fault in the range (after another reader
    /// resolved it first).
    public func wake(at address: UInt64, length: UInt64) {
        var range = uffdio_range(start: address, len: length)
        _ = ckvm_ioctl_ptr(fd, CUFFDIO_WAKE, &range)
    }

    /// UFFDIO_UNREGISTER: the kernel wakes every thread blocked in a fault on the range, which
    /// then retries the fault without userfaultfd.
    public func unregister(start: UInt64, length: UInt64) {
        var range = uffdio_range(start: start, len: length)
        _ = ckvm_ioctl_ptr(fd, CUFFDIO_UNREGISTER, &range)
    }

    @inline(__always)
    private func retrying(_ call: () -> Int32) -> Errno? {
        while true {
            if call() == 0 { return nil }
            let error = Glibc.errno
            if error == EAGAIN || error == EINTR { continue }
            return Errno(rawValue: error)
        }
    }
}

/// An eventfd that, once signalled, stays readable: every thread waiting on it wakes, now and later.
public struct StopEvent: ~Copyable {
    let fd: Int32

    /// eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK).
    public init() throws(KVMError) {
        let raw = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        guard raw >= 0 else { throw KVMError("eventfd", errno: Errno(rawValue: Glibc.errno)) }
        fd = raw
    }

    deinit { close(fd) }

    /// Adds 1 to the counter (never read back, so the fd stays readable).
    public func signal() {
        var one: UInt64 = 1
        _ = write(fd, &one, 8)
    }

    /// SAFETY: the handle is the fd number; valid while this owner lives (see `Userfaultfd.handle`).
    public var handle: StopEventHandle { StopEventHandle(fd: fd) }
}

public struct StopEventHandle: Sendable {
    let fd: Int32
}

/// What a `UserfaultfdWaiter` woke for.
public enum UserfaultfdWake: Sendable, Equatable {
    /// The userfaultfd has a message (or had one another reader may have taken).
    case readable
    /// The stop event was signalled.
    case stop
    /// EPOLLERR/EPOLLHUP on the userfaultfd.
    case hangup(events: UInt32)
    case failed(Errno)
}

/// One reader thread's epoll instance on a userfaultfd and a stop event, as the selftests'
/// uffd_handler_thread_fn builds it: the userfaultfd is added with EPOLLEXCLUSIVE, so a fault
/// message wakes one of the readers sharing the userfaultfd instead of all of them; the stop event
/// is added without it, so stopping wakes every reader.
public struct UserfaultfdWaiter: ~Copyable {
    let epoll: Int32
    let uffd: Int32
    let stop: Int32

    /// epoll_create1, then EPOLL_CTL_ADD of the userfaultfd (EPOLLIN | EPOLLEXCLUSIVE, unless
    /// `exclusive` is false) and of the stop event (EPOLLIN).
    public init(uffd: UserfaultfdHandle, stop: StopEventHandle, exclusive: Bool = true) throws(KVMError) {
        let raw = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard raw >= 0 else { throw KVMError("epoll_create1", errno: Errno(rawValue: Glibc.errno)) }
        var uffdEvent = epoll_event()
        uffdEvent.events = EPOLLIN.rawValue | (exclusive ? EPOLLEXCLUSIVE.rawValue : 0)
        uffdEvent.data.fd = uffd.fd
        var stopEvent = epoll_event()
        stopEvent.events = EPOLLIN.rawValue
        stopEvent.data.fd = stop.fd
        for (fd, name) in [(uffd.fd, "userfaultfd"), (stop.fd, "stop eventfd")] {
            var event = fd == uffd.fd ? uffdEvent : stopEvent
            guard epoll_ctl(raw, EPOLL_CTL_ADD, fd, &event) == 0 else {
                let error = Errno(rawValue: Glibc.errno)
                close(raw)
                throw KVMError("epoll_ctl", "EPOLL_CTL_ADD \(name)\(fd == uffd.fd && exclusive ? ", EPOLLEXCLUSIVE" : "")", errno: error)
            }
        }
        epoll = raw
        self.uffd = uffd.fd
        self.stop = stop.fd
    }

    deinit { close(epoll) }

    /// epoll_wait without a timeout (EINTR retried). The stop event wins over a pending message.
    @inline(__always)
    public func wait() -> UserfaultfdWake {
        var events = (epoll_event(), epoll_event())
        while true {
            let ready = withUnsafeMutablePointer(to: &events) { pointer in
                pointer.withMemoryRebound(to: epoll_event.self, capacity: 2) { epoll_wait(epoll, $0, 2, -1) }
            }
            if ready < 0 {
                if Glibc.errno == EINTR { continue }
                return .failed(Errno(rawValue: Glibc.errno))
            }
            var readable = false
            for index in 0..<Int(ready) {
                let event = index == 0 ? events.0 : events.1
                if event.data.fd == stop { return .stop }
                if event.events & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 { return .hangup(events: event.events) }
                readable = true
            }
            if readable { return .readable }
        }
    }
}
