import Backings
import CKVM
import Dispatch
import Foundation
import Glibc
import Histogram
import KVM

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

/// userfaultfd uapi values linux/userfaultfd.h defines with casts, which Swift cannot import.
enum UffdABI {
    /// UFFD_API: the only API version there is.
    static let api: UInt64 = 0xAA
    /// UFFD_EVENT_PAGEFAULT.
    static let eventPagefault: UInt8 = 0x12
    /// UFFD_PAGEFAULT_FLAG_WRITE.
    static let flagWrite: UInt64 = 1 << 0
    /// Bits of uffdio_register.ioctls, 1 << _UFFDIO_*.
    static let ioctlCopy: UInt64 = 1 << 0x03
    static let ioctlContinue: UInt64 = 1 << 0x07
}

/// The userfaultfd features `mode` needs on memory of `backing`, for UFFDIO_API.
func uffdFeatures(mode: UffdMode, backing: BackingKind) -> UInt64 {
    switch (mode, backing.isShared, backing.hugetlbPool != nil) {
    case (.minor, _, true): UInt64(UFFD_FEATURE_MINOR_HUGETLBFS)
    case (.minor, _, false): UInt64(UFFD_FEATURE_MINOR_SHMEM)
    case (.missing, _, true): UInt64(UFFD_FEATURE_MISSING_HUGETLBFS)
    case (.missing, true, false): UInt64(UFFD_FEATURE_MISSING_SHMEM)
    default: 0
    }
}

/// One userfaultfd: the fd from userfaultfd(2), after the UFFDIO_API handshake. Closing it (when
/// the owner goes away) unregisters every range it had and wakes any thread still blocked in a
/// fault on them, which then retries the fault without userfaultfd.
///
/// The fd is opened without UFFD_USER_MODE_ONLY: KVM resolves guest faults with get_user_pages()
/// from the vCPU thread in kernel mode, and such faults must reach the handler too.
public struct Userfaultfd: ~Copyable {
    public let fd: Int32
    /// Features the kernel granted (uffdio_api.features after UFFDIO_API).
    public let features: UInt64

    /// Opens a userfaultfd (O_CLOEXEC | O_NONBLOCK, so several readers can share it) and asks for
    /// `features`. A host without userfaultfd, or without those features, throws `ScenarioUnsupported`.
    public init(features requested: UInt64) throws(ScenarioUnsupported) {
        let fd = ckvm_userfaultfd(O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            throw ScenarioUnsupported("userfaultfd(2) failed: \(String(cString: strerror(errno))) (needs CONFIG_USERFAULTFD, and root or vm.unprivileged_userfaultfd=1)")
        }
        var api = uffdio_api(api: UffdABI.api, features: requested, ioctls: 0)
        guard ckvm_ioctl_ptr(fd, CUFFDIO_API, &api) == 0 else {
            let error = String(cString: strerror(errno))
            close(fd)
            throw ScenarioUnsupported("UFFDIO_API with features \(hex(requested)) failed: \(error): this kernel lacks a userfaultfd feature the run needs")
        }
        self.fd = fd
        features = api.features
    }

    deinit { close(fd) }

    /// UFFDIO_REGISTER of [start, start+length) in `mode`. Throws `ScenarioUnsupported` when the
    /// kernel refuses the range or does not offer the resolving ioctl (COPY or CONTINUE) on it.
    public func register(_ start: UnsafeMutableRawPointer, length: UInt64, mode: UffdMode) throws(ScenarioUnsupported) {
        let modeBits = mode == .minor ? UInt64(CUFFDIO_REGISTER_MODE_MINOR) : UInt64(CUFFDIO_REGISTER_MODE_MISSING)
        var request = uffdio_register(range: uffdio_range(start: UInt64(UInt(bitPattern: start)), len: length),
                                      mode: modeBits, ioctls: 0)
        guard ckvm_ioctl_ptr(fd, CUFFDIO_REGISTER, &request) == 0 else {
            throw ScenarioUnsupported("UFFDIO_REGISTER (\(mode.rawValue)) of \(formatBytes(length)) failed: \(String(cString: strerror(errno)))")
        }
        let needed = mode == .minor ? UffdABI.ioctlContinue : UffdABI.ioctlCopy
        guard request.ioctls & needed != 0 else {
            throw ScenarioUnsupported("the kernel registered the range but offers no \(mode == .minor ? "UFFDIO_CONTINUE" : "UFFDIO_COPY") on it (ioctls \(hex(request.ioctls)))")
        }
    }
}

/// What the handler threads of one run did, and how long they took per fault.
public struct UffdReport: Sendable {
    /// Pages resolved by UFFDIO_COPY / UFFDIO_CONTINUE (successful calls).
    public var resolved: Int = 0
    /// Page-fault messages read.
    public var messages: Int = 0
    /// Resolutions that found the page already there (EEXIST: two vCPUs faulted on one page and
    /// another reader won); answered with UFFDIO_WAKE.
    public var alreadyPresent: Int = 0
    /// Samples that did not fit the preallocated buffers (0 unless the run faulted more than planned).
    public var dropped: Int = 0
    /// Per handler (one per uffd): pages resolved.
    public var resolvedPerHandler: [Int] = []
    /// Handler wake-up (poll return) to resolution done, excluding `--uffd-delay`, in ns.
    public var latency: LatencySummary
    /// Wake-up to the message read (the read(2) itself), in ns.
    public var readLatency: LatencySummary
    /// UFFDIO_COPY / UFFDIO_CONTINUE alone, in ns.
    public var resolveLatency: LatencySummary
    /// From one resolution done to the next message read on the same uffd, in ns: the faulting
    /// thread's wake-up, its run to the next fault, KVM's fault path up to handle_userfault, and
    /// the handler's wake-up. Meaningful only with one vCPU and one reader per uffd (else nil).
    public var faultToRead: LatencySummary?
    /// Per handler: median latency in ns.
    public var medianPerHandler: [Double] = []
}

/// Percentiles of a set of nanosecond durations, from an HdrHistogram (3 significant digits).
public struct LatencySummary: Sendable, Equatable {
    public var count: Int
    public var p50: Double
    public var p90: Double
    public var p99: Double
    public var max: Double
    public var mean: Double

    /// Builds the histogram of `values` (nanoseconds) and reads its percentiles. Each percentile
    /// is the histogram's value at that percentile: exact to 3 significant digits.
    public init(values: some Sequence<UInt64>) {
        var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 100_000_000_000,
                                          numberOfSignificantValueDigits: .three)
        for value in values { _ = histogram.record(Swift.max(1, value)) }
        count = Int(histogram.totalCount)
        if count == 0 {
            p50 = 0; p90 = 0; p99 = 0; max = 0; mean = 0
            return
        }
        p50 = Double(histogram.valueAtPercentile(50))
        p90 = Double(histogram.valueAtPercentile(90))
        p99 = Double(histogram.valueAtPercentile(99))
        max = Double(histogram.max)
        mean = histogram.mean
    }
}

/// One reader thread of one uffd: polls the uffd and the stop pipe, reads page-fault messages
/// and resolves them, recording timestamps into buffers allocated before the run.
///
/// SAFETY (`@unchecked Sendable`): every mutable field is written only by the reader thread
/// between `start()` and `finished.signal()`, and read by the owner only after `finished.wait()`;
/// the semaphore orders those accesses. The buffers are allocated in `init` and freed in `deinit`.
final class UffdReader: @unchecked Sendable {
    let uffd: Int32
    let stopFD: Int32
    let mode: UffdMode
    /// Page granularity of the backing: faults are resolved one host page at a time.
    let unit: UInt64
    let source: UnsafeMutableRawPointer?
    let delayNanos: UInt64
    /// The registered range, unregistered on a handler failure so blocked vCPUs can go on.
    let rangeStart: UInt64
    let rangeLength: UInt64
    let trackGaps: Bool
    let capacity: Int
    /// Per fault: wake-up to read done, resolve alone, whole (wake-up to done minus the delay), gap.
    let readNanos: UnsafeMutablePointer<UInt64>
    let resolveNanos: UnsafeMutablePointer<UInt64>
    let totalNanos: UnsafeMutablePointer<UInt64>
    let gapNanos: UnsafeMutablePointer<UInt64>
    var recorded = 0
    var gaps = 0
    var resolved = 0
    var messages = 0
    var alreadyPresent = 0
    var dropped = 0
    var failure: String?
    /// Set by the owner before the thread starts; only started readers are waited for.
    private(set) var started = false
    let finished = DispatchSemaphore(value: 0)

    init(uffd: Int32, stopFD: Int32, mode: UffdMode, unit: UInt64, source: UnsafeMutableRawPointer?,
         delayNanos: UInt64, rangeStart: UInt64, rangeLength: UInt64, capacity: Int, trackGaps: Bool) {
        self.uffd = uffd
        self.stopFD = stopFD
        self.mode = mode
        self.unit = unit
        self.source = source
        self.delayNanos = delayNanos
        self.rangeStart = rangeStart
        self.rangeLength = rangeLength
        self.capacity = capacity
        self.trackGaps = trackGaps
        readNanos = .allocate(capacity: capacity)
        resolveNanos = .allocate(capacity: capacity)
        totalNanos = .allocate(capacity: capacity)
        gapNanos = .allocate(capacity: capacity)
        // Touch the buffers now so the first faults do not page them in.
        for buffer in [readNanos, resolveNanos, totalNanos, gapNanos] { buffer.initialize(repeating: 0, count: capacity) }
    }

    deinit {
        readNanos.deallocate(); resolveNanos.deallocate(); totalNanos.deallocate(); gapNanos.deallocate()
    }

    func start(name: String) {
        started = true
        // Weak, so the handler never outlives its owner through its thread (see VCPUWorker.start).
        let thread = Thread { [weak self] in
            guard let self else { return }
            self.loop()
            self.finished.signal()
        }
        thread.name = name
        thread.stackSize = 256 << 10
        thread.start()
    }

    /// The handler loop, as the selftests' uffd_handler_thread_fn: poll(2) both fds, read one
    /// message, resolve it. Nothing in it allocates.
    private func loop() {
        var fds = (pollfd(fd: uffd, events: Int16(POLLIN), revents: 0), pollfd(fd: stopFD, events: Int16(POLLIN), revents: 0))
        var message = uffd_msg()
        let messageSize = MemoryLayout<uffd_msg>.size
        var lastDone: UInt64 = 0
        while true {
            let ready = withUnsafeMutablePointer(to: &fds) { pointer in
                pointer.withMemoryRebound(to: pollfd.self, capacity: 2) { poll($0, 2, -1) }
            }
            if ready < 0 {
                if errno == EINTR { continue }
                fail("poll: \(String(cString: strerror(errno)))")
                return
            }
            if fds.1.revents != 0 { return }
            if fds.0.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 {
                fail("poll reported \(hex(UInt16(bitPattern: fds.0.revents))) on the userfaultfd")
                return
            }
            let woke = monotonicNanos()
            let count = read(uffd, &message, messageSize)
            if count < 0 {
                if errno == EAGAIN || errno == EINTR { continue } // another reader took it
                fail("read of the userfaultfd: \(String(cString: strerror(errno)))")
                return
            }
            let readDone = monotonicNanos()
            guard count == messageSize, message.event == UffdABI.eventPagefault else {
                fail("unexpected userfaultfd message (event \(hex(message.event)), \(count) bytes)")
                return
            }
            messages += 1
            if delayNanos > 0 { sleepNanos(delayNanos) }
            let resolveStart = monotonicNanos()
            let address = message.arg.pagefault.address & ~(unit - 1)
            let result = resolve(address)
            let done = monotonicNanos()
            switch result {
            case 0: resolved += 1
            case EEXIST: alreadyPresent += 1
            default:
                fail("\(mode == .minor ? "UFFDIO_CONTINUE" : "UFFDIO_COPY") at \(hex(address)): \(String(cString: strerror(result)))")
                return
            }
            if recorded < capacity {
                readNanos[recorded] = readDone &- woke
                resolveNanos[recorded] = done &- resolveStart
                totalNanos[recorded] = (readDone &- woke) &+ (done &- resolveStart)
                recorded += 1
            } else {
                dropped += 1
            }
            if trackGaps && lastDone != 0 && gaps < capacity {
                gapNanos[gaps] = readDone &- lastDone
                gaps += 1
            }
            lastDone = done
        }
    }

    /// Resolves the fault on the host page at `address`: 0, EEXIST (already resolved, waiters woken)
    /// or the errno of the failure.
    @inline(__always)
    private func resolve(_ address: UInt64) -> Int32 {
        while true {
            let status: Int32
            if mode == .minor {
                var request = uffdio_continue(range: uffdio_range(start: address, len: unit), mode: 0, mapped: 0)
                status = ckvm_ioctl_ptr(uffd, CUFFDIO_CONTINUE, &request)
            } else {
                var request = uffdio_copy(dst: address, src: UInt64(UInt(bitPattern: source)), len: unit, mode: 0, copy: 0)
                status = ckvm_ioctl_ptr(uffd, CUFFDIO_COPY, &request)
            }
            if status == 0 { return 0 }
            let error = errno
            if error == EAGAIN || error == EINTR { continue }
            if error == EEXIST {
                // Another reader resolved this page first; make sure every thread waiting on it runs.
                var range = uffdio_range(start: address, len: unit)
                _ = ckvm_ioctl_ptr(uffd, CUFFDIO_WAKE, &range)
            }
            return error
        }
    }

    /// Records the failure and unregisters the range: the kernel then wakes every thread blocked
    /// in a fault on it, which retries without userfaultfd, so the vCPUs finish their pass and
    /// the case fails with this message instead of hanging.
    private func fail(_ text: String) {
        failure = text
        var range = uffdio_range(start: rangeStart, len: rangeLength)
        _ = ckvm_ioctl_ptr(uffd, CUFFDIO_UNREGISTER, &range)
    }
}

func sleepNanos(_ nanos: UInt64) {
    var request = timespec(tv_sec: Int(nanos / 1_000_000_000), tv_nsec: Int(nanos % 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}

/// One uffd, registered on one range, with its reader threads. Owns the `Userfaultfd`: when the
/// handler goes away the fd is closed, after `UffdService` has stopped the readers.
final class UffdHandler {
    let uffd: Userfaultfd
    let readers: [UffdReader]

    init(uffd: consuming Userfaultfd, readers: [UffdReader]) {
        self.uffd = uffd
        self.readers = readers
    }
}

/// Serves guest page faults on the test memory through userfaultfd, as the selftests'
/// demand_paging_test does: one uffd per vCPU region (or one for all), each with `readers`
/// threads that resolve faults by UFFDIO_COPY from a preallocated source page (missing mode) or
/// UFFDIO_CONTINUE (minor mode).
///
/// Create it after the VM exists and before the guest first runs; call `finish()` when the
/// faults of interest are done: it stops the threads, closes the uffds (the kernel unregisters
/// the ranges, so later faults are ordinary ones) and returns the report.
public final class UffdService {
    public struct Options: Sendable, Equatable {
        public var mode: UffdMode
        /// One uffd for the whole test memory instead of one per vCPU region.
        public var shared: Bool
        /// Reader threads per uffd.
        public var readers: Int
        /// Artificial delay before each resolution, in ns (the selftest's -d).
        public var delayNanos: UInt64
        public init(mode: UffdMode, shared: Bool = false, readers: Int = 1, delayNanos: UInt64 = 0) {
            self.mode = mode
            self.shared = shared
            self.readers = readers
            self.delayNanos = delayNanos
        }
    }

    public let options: Options
    /// Host page size the faults are resolved at: 4 KiB, or 2 MiB on hugetlb backings.
    public let unit: UInt64
    private var handlers: [UffdHandler]
    private let stopFD: Int32
    private let stopWriteFD: Int32
    private let source: UnsafeMutableRawPointer?
    private let sourceSize: Int
    private var report: UffdReport?

    /// Registers `memory` (split into `regions` equal ranges, one uffd each; one range with
    /// `options.shared`) and starts the readers. `faultsPerPage` is how many vCPUs may fault on one
    /// page (more than 1 with a shared region); it sizes the per-reader sample buffers.
    public init(options: Options, memory: borrowing HostMemory, regions: Int, faultsPerPage: Int = 1) throws {
        self.options = options
        let kind = memory.kind
        unit = kind.hugetlbPool != nil ? kind.pageSize : 4096
        guard options.mode != .none else { throw ScenarioUnsupported("UffdService needs a userfaultfd mode") }
        // A pipe whose read end every reader polls: one byte written at stop wakes them all (it is
        // never read, so it stays readable).
        var ends: (Int32, Int32) = (-1, -1)
        let piped = withUnsafeMutablePointer(to: &ends) { $0.withMemoryRebound(to: Int32.self, capacity: 2) { pipe($0) } }
        guard piped == 0 else { throw ScenarioUnsupported("pipe failed: \(String(cString: strerror(errno)))") }
        _ = fcntl(ends.0, F_SETFD, FD_CLOEXEC)
        _ = fcntl(ends.1, F_SETFD, FD_CLOEXEC)
        stopFD = ends.0
        stopWriteFD = ends.1
        if options.mode == .missing {
            // The page every UFFDIO_COPY copies from (the selftests' guest_data_prototype).
            sourceSize = Int(unit)
            let page = mmap(nil, sourceSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            guard let page, page != MAP_FAILED else {
                close(stopFD)
                close(stopWriteFD)
                throw ScenarioUnsupported("mmap of the \(formatBytes(unit)) UFFDIO_COPY source failed")
            }
            memset(page, Int32(UffdService.copyPattern), sourceSize)
            source = page
        } else {
            sourceSize = 0
            source = nil
        }
        handlers = []
        if options.mode == .minor {
            do { try Self.populatePageCache(of: memory) } catch {
                stopAndRelease()
                throw error
            }
        }
        let count = options.shared ? 1 : max(1, regions)
        let regionSize = memory.size / UInt64(count)
        // Each reader of a uffd may get every message of its range.
        let capacity = Int(regionSize / unit) * max(1, faultsPerPage) + 64
        do {
            for index in 0..<count {
                let start = memory.base + Int(UInt64(index) * regionSize)
                let uffd = try Userfaultfd(features: uffdFeatures(mode: options.mode, backing: kind))
                try uffd.register(start, length: regionSize, mode: options.mode)
                var readers: [UffdReader] = []
                for _ in 0..<options.readers {
                    readers.append(UffdReader(uffd: uffd.fd, stopFD: stopFD, mode: options.mode, unit: unit, source: source,
                                              delayNanos: options.delayNanos, rangeStart: UInt64(UInt(bitPattern: start)),
                                              rangeLength: regionSize, capacity: capacity,
                                              trackGaps: options.readers == 1))
                }
                handlers.append(UffdHandler(uffd: uffd, readers: readers))
            }
        } catch {
            stopAndRelease()
            throw error
        }
        for (index, handler) in handlers.enumerated() {
            for (number, reader) in handler.readers.enumerated() { reader.start(name: "uffd-\(index).\(number)") }
        }
    }

    deinit { stopAndRelease() }

    /// Byte every missing-mode page is filled with (UFFDIO_COPY source).
    public static let copyPattern: UInt8 = 0xAB
    /// Byte every minor-mode page holds (written through the second mapping).
    public static let minorPattern: UInt8 = 0xCD

    /// Minor faults need the page in the page cache but not in the registered mapping: populate
    /// it through a second MAP_SHARED mapping of the memfd, then drop that mapping.
    static func populatePageCache(of memory: borrowing HostMemory) throws(ScenarioUnsupported) {
        guard let memfd = memory.memfd else {
            throw ScenarioUnsupported("\(memory.kind.rawValue) has no memfd to populate the page cache through")
        }
        let size = Int(memory.size)
        guard let alias = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0), alias != MAP_FAILED else {
            throw ScenarioUnsupported("second mapping of the \(memory.kind.rawValue) memfd failed: \(String(cString: strerror(errno)))")
        }
        var offset = 0
        while offset < size {
            alias.storeBytes(of: minorPattern, toByteOffset: offset + 4095, as: UInt8.self)
            offset += 4096
        }
        munmap(alias, size)
    }

    /// Stops every reader, closes the uffds and returns what they did. Throws the first handler failure.
    public func finish() throws -> UffdReport {
        if let report { return report }
        stopReaders()
        let readers = handlers.flatMap(\.readers)
        var report = UffdReport(latency: LatencySummary(values: []), readLatency: LatencySummary(values: []),
                                resolveLatency: LatencySummary(values: []))
        for reader in readers {
            report.resolved += reader.resolved
            report.messages += reader.messages
            report.alreadyPresent += reader.alreadyPresent
            report.dropped += reader.dropped
        }
        report.resolvedPerHandler = handlers.map { $0.readers.reduce(0) { $0 + $1.resolved } }
        report.medianPerHandler = handlers.map { handler in
            LatencySummary(values: handler.readers.lazy.flatMap { UnsafeBufferPointer(start: $0.totalNanos, count: $0.recorded) }).p50
        }
        func all(_ buffer: KeyPath<UffdReader, UnsafeMutablePointer<UInt64>>) -> LatencySummary {
            LatencySummary(values: readers.lazy.flatMap { UnsafeBufferPointer(start: $0[keyPath: buffer], count: $0.recorded) })
        }
        report.latency = all(\.totalNanos)
        report.readLatency = all(\.readNanos)
        report.resolveLatency = all(\.resolveNanos)
        if options.readers == 1 {
            report.faultToRead = LatencySummary(values: readers.lazy.flatMap { UnsafeBufferPointer(start: $0.gapNanos, count: $0.gaps) })
        }
        let failure = readers.lazy.compactMap(\.failure).first
        handlers.removeAll() // closes every uffd: the ranges are unregistered
        self.report = report
        if let failure { throw UffdFailure(failure) }
        return report
    }

    private var stopped = false
    private var released = false

    private func stopReaders() {
        guard !stopped else { return }
        stopped = true
        var one: UInt8 = 1
        _ = write(stopWriteFD, &one, 1)
        for handler in handlers { for reader in handler.readers where reader.started { reader.finished.wait() } }
    }

    /// Stops the readers, closes the uffds, the stop pipe and the source page. Idempotent.
    private func stopAndRelease() {
        guard !released else { return }
        released = true
        stopReaders()
        handlers.removeAll()
        close(stopFD)
        close(stopWriteFD)
        if let source { munmap(source, sourceSize) }
    }
}

/// A userfaultfd handler thread failed (an ioctl error or an unexpected message).
public struct UffdFailure: Error, CustomStringConvertible, Sendable {
    public var detail: String
    public init(_ detail: String) { self.detail = detail }
    public var description: String { "userfaultfd handler: \(detail)" }
}

/// Counts the host pages of [start, start+length) that are resident (mincore(2)): present in the
/// page tables or, for shared memory, in the page cache.
public func residentPages(_ start: UnsafeMutableRawPointer, length: UInt64) -> Int {
    let pages = Int((length + 4095) / 4096)
    var vector = [UInt8](repeating: 0, count: pages)
    guard mincore(start, Int(length), &vector) == 0 else { return -1 }
    return vector.reduce(0) { $0 + Int($1 & 1) }
}
