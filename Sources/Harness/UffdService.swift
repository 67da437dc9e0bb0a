import Backings
import Dispatch
import Foundation
import Glibc
import Histogram
import KVM
import SystemPackage

/// One reader thread of one uffd: waits on its own epoll instance (exclusive wake-ups on the
/// uffd, shared on the stop event), reads page-fault messages and resolves them, recording each
/// latency into streaming histograms created before the run.
///
/// SAFETY (`@unchecked Sendable`): every mutable field is written only by the reader thread
/// between `start()` and `finished.signal()`, and read by the owner only after `finished.wait()`;
/// the semaphore orders those accesses.
final class UffdReader: @unchecked Sendable {
    let uffd: UserfaultfdHandle
    let waiter: UserfaultfdWaiter
    let mode: UffdMode
    /// Page granularity of the backing: faults are resolved one host page at a time.
    let unit: UInt64
    let source: UnsafeRawPointer?
    let delayNanos: UInt64
    /// The registered range, unregistered on a handler failure so blocked vCPUs can go on.
    let rangeStart: UInt64
    let rangeLength: UInt64
    let trackGaps: Bool
    /// Per fault: wake-up to read done, resolve alone, handler latency (wake-up to done minus the delay), gap.
    var readNanos = LatencyHistogram()
    var resolveNanos = LatencyHistogram()
    var handlerNanos = LatencyHistogram()
    var gapNanos = LatencyHistogram()
    var resolved = 0
    var messages = 0
    var alreadyPresent = 0
    var emptyWakeups = 0
    var failure: String?
    /// Set by the owner before the thread starts; only started readers are waited for.
    private(set) var started = false
    let finished = DispatchSemaphore(value: 0)

    /// Memory one reader allocates: its four histograms.
    static let bytes: UInt64 = 4 * LatencyHistogram.bytes

    init(uffd: UserfaultfdHandle, stop: StopEventHandle, exclusive: Bool, mode: UffdMode, unit: UInt64,
         source: UnsafeRawPointer?, delayNanos: UInt64, rangeStart: UInt64, rangeLength: UInt64,
         trackGaps: Bool) throws(KVMError) {
        self.uffd = uffd
        waiter = try UserfaultfdWaiter(uffd: uffd, stop: stop, exclusive: exclusive)
        self.mode = mode
        self.unit = unit
        self.source = source
        self.delayNanos = delayNanos
        self.rangeStart = rangeStart
        self.rangeLength = rangeLength
        self.trackGaps = trackGaps
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

    /// The handler loop, as the selftests' uffd_handler_thread_fn: epoll_wait, read one message,
    /// resolve it. Nothing in it allocates.
    private func loop() {
        var lastDone: UInt64 = 0
        while true {
            switch waiter.wait() {
            case .readable: break
            case .stop: return
            case .hangup(let events):
                fail("epoll reported \(hex(events)) on the userfaultfd")
                return
            case .failed(let error):
                fail("epoll_wait: \(error)")
                return
            }
            let woke = MonotonicClock.now()
            let address: UInt64
            switch uffd.read() {
            case .pagefault(let faulting, _): address = faulting & ~(unit - 1)
            case .empty:
                emptyWakeups += 1 // another reader took it
                continue
            case .unexpected(let event, let bytes):
                fail("unexpected userfaultfd message (event \(hex(event)), \(bytes) bytes)")
                return
            case .failed(let error):
                fail("read of the userfaultfd: \(error)")
                return
            }
            let readDone = MonotonicClock.now()
            messages += 1
            if delayNanos > 0 { sleepNanos(delayNanos) }
            let resolveStart = MonotonicClock.now()
            let result = resolve(address)
            let done = MonotonicClock.now()
            switch result {
            case nil: resolved += 1
            case .fileExists?: alreadyPresent += 1
            case let error?:
                fail("\(mode.registration.resolvingIoctl) at \(hex(address)): \(error)")
                return
            }
            readNanos.record(readDone &- woke)
            resolveNanos.record(done &- resolveStart)
            handlerNanos.record((readDone &- woke) &+ (done &- resolveStart))
            if trackGaps && lastDone != 0 { gapNanos.record(readDone &- lastDone) }
            lastDone = done
        }
    }

    /// Resolves the fault on the host page at `address`: nil, EEXIST (already resolved, waiters
    /// woken) or the errno of the failure.
    @inline(__always)
    private func resolve(_ address: UInt64) -> Errno? {
        let error: Errno?
        if mode == .minor {
            error = uffd.continueMapping(at: address, length: unit)
        } else {
            // SAFETY: `source` is the UffdService's page of `unit` bytes, mapped until it goes.
            error = uffd.copy(to: address, from: source!, length: unit)
        }
        // Another reader resolved this page first; make sure every thread waiting on it runs.
        if error == .fileExists { uffd.wake(at: address, length: unit) }
        return error
    }

    /// Records the failure and unregisters the range: the kernel then wakes every thread blocked
    /// in a fault on it, which retries without userfaultfd, so the vCPUs finish their pass and
    /// the case fails with this message instead of hanging.
    private func fail(_ text: String) {
        failure = text
        uffd.unregister(start: rangeStart, length: rangeLength)
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
    var readers: [UffdReader] = []

    init(uffd: consuming Userfaultfd) {
        self.uffd = uffd
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
        /// Readers of one uffd wake exclusively (EPOLLEXCLUSIVE): one per message, not all.
        public var exclusiveWakeups: Bool
        public init(mode: UffdMode, shared: Bool = false, readers: Int = 1, delayNanos: UInt64 = 0,
                    exclusiveWakeups: Bool = true) {
            self.mode = mode
            self.shared = shared
            self.readers = readers
            self.delayNanos = delayNanos
            self.exclusiveWakeups = exclusiveWakeups
        }

        /// Memory the service allocates besides the guest's: every reader's histograms and the
        /// UFFDIO_COPY source page, for uffds on a guest of `vcpus` vCPU regions.
        public func bufferBytes(vcpus: Int, unit: UInt64) -> UInt64 {
            guard mode != .none else { return 0 }
            let uffds = UInt64(shared ? 1 : max(1, vcpus))
            return uffds * UInt64(max(1, readers)) * UffdReader.bytes + (mode == .missing ? unit : 0)
        }
    }

    public let options: Options
    /// Host page size the faults are resolved at: 4 KiB, or 2 MiB on hugetlb backings.
    public let unit: UInt64
    private var handlers: [UffdHandler]
    private let stop: StopEvent
    /// The page every UFFDIO_COPY copies from (the selftests' guest_data_prototype).
    private let source: HostMemory?
    private var report: UffdReport?

    /// Registers `memory` (split into `regions` equal ranges, one uffd each; one range with
    /// `options.shared`) and starts the readers.
    public init(options: Options, memory: borrowing HostMemory, regions: Int) throws {
        self.options = options
        let kind = memory.kind
        unit = kind.hugetlbPool != nil ? kind.pageSize : 4096
        guard options.mode != .none else { throw ScenarioUnsupported("UffdService needs a userfaultfd mode") }
        do { stop = try StopEvent() } catch { throw ScenarioUnsupported("\(error)") }
        var sourcePointer: UnsafeRawPointer? = nil
        if options.mode == .missing {
            let page: HostMemory
            do { page = try HostMemory(kind: .anonymous4k, size: unit) } catch {
                throw ScenarioUnsupported("the \(formatBytes(unit)) UFFDIO_COPY source: \(error.reason)")
            }
            _ = page.buffer.initializeMemory(as: UInt8.self, repeating: UffdService.copyPattern)
            sourcePointer = UnsafeRawPointer(page.base)
            source = .some(page)
        } else {
            source = nil
        }
        handlers = []
        if options.mode == .minor {
            do { try memory.populatePageCache(pattern: Self.minorPattern, offsetInPage: 4095) } catch {
                throw ScenarioUnsupported(error.reason)
            }
        }
        let count = options.shared ? 1 : max(1, regions)
        let regionSize = memory.size / UInt64(count)
        do {
            for index in 0..<count {
                let start = memory.base + Int(UInt64(index) * regionSize)
                let uffd = try Userfaultfd.forScenario(features: uffdFeatures(mode: options.mode, backing: kind))
                try uffd.registerForScenario(start, length: regionSize, mode: options.mode)
                let handler = UffdHandler(uffd: uffd)
                for _ in 0..<options.readers {
                    do {
                        handler.readers.append(try UffdReader(
                            uffd: handler.uffd.handle, stop: stop.handle, exclusive: options.exclusiveWakeups,
                            mode: options.mode, unit: unit, source: sourcePointer, delayNanos: options.delayNanos,
                            rangeStart: UInt64(UInt(bitPattern: start)), rangeLength: regionSize,
                            trackGaps: options.readers == 1))
                    } catch { throw ScenarioUnsupported("\(error)") }
                }
                handlers.append(handler)
            }
        } catch {
            stopReaders()
            throw error
        }
        for (index, handler) in handlers.enumerated() {
            for (number, reader) in handler.readers.enumerated() { reader.start(name: "uffd-\(index).\(number)") }
        }
    }

    deinit { stopReaders() }

    /// Byte every missing-mode page is filled with (UFFDIO_COPY source).
    public static let copyPattern: UInt8 = 0xAB
    /// Byte every minor-mode page holds (written through the second mapping).
    public static let minorPattern: UInt8 = 0xCD

    /// Stops every reader, closes the uffds and returns what they did. Throws the first handler failure.
    public func finish() throws -> UffdReport {
        if let report { return report }
        stopReaders()
        let readers = handlers.flatMap(\.readers)
        var handler = LatencyHistogram(), read = LatencyHistogram(), resolve = LatencyHistogram(), gap = LatencyHistogram()
        var report = UffdReport(handlerLatency: handler.summary, readLatency: read.summary, resolveLatency: resolve.summary)
        for reader in readers {
            report.resolved += reader.resolved
            report.messages += reader.messages
            report.alreadyPresent += reader.alreadyPresent
            report.emptyWakeups += reader.emptyWakeups
            report.dropped += reader.handlerNanos.dropped
            handler.add(reader.handlerNanos)
            read.add(reader.readNanos)
            resolve.add(reader.resolveNanos)
            gap.add(reader.gapNanos)
        }
        report.resolvedPerHandler = handlers.map { $0.readers.reduce(0) { $0 + $1.resolved } }
        report.medianPerHandler = handlers.map { owner in
            var merged = LatencyHistogram()
            for reader in owner.readers { merged.add(reader.handlerNanos) }
            return merged.summary.p50
        }
        report.handlerLatency = handler.summary
        report.readLatency = read.summary
        report.resolveLatency = resolve.summary
        if options.readers == 1 { report.faultToRead = gap.summary }
        let failure = readers.lazy.compactMap(\.failure).first
        handlers.removeAll() // closes every uffd: the ranges are unregistered
        self.report = report
        if let failure { throw UffdFailure(failure) }
        return report
    }

    private var stopped = false

    /// Wakes every reader through the stop event and waits for the started ones. Idempotent.
    private func stopReaders() {
        guard !stopped else { return }
        stopped = true
        stop.signal()
        for handler in handlers { for reader in handler.readers where reader.started { reader.finished.wait() } }
    }
}

/// A userfaultfd handler thread failed (an ioctl error or an unexpected message).
public struct UffdFailure: Error, CustomStringConvertible, Sendable {
    public var detail: String
    public init(_ detail: String) { self.detail = detail }
    public var description: String { "userfaultfd handler: \(detail)" }
}
