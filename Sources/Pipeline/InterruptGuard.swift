import Backings
import Foundation
import Glibc
import Synchronization

/// Process-wide SIGINT/SIGTERM handling for a run.
///
/// The first signal is handed to a thread that runs the session's orderly shutdown (write the
/// results measured so far, marked interrupted; restore hugepage pools; exit 128 + N). If that
/// shutdown does not finish (a blocked write, a stuck filesystem) a second signal ends the
/// process at once: another thread, which does nothing else, restores the hugepage pools and
/// calls _exit(128 + N) without running anything more.
///
/// The signal handler itself only counts and writes the signal number to one of two pipes
/// (write(2) and a lock-free atomic are async-signal-safe); all real work happens on the two
/// threads, which is why the second signal is served even while the first's work is stuck.
/// The thread that installs the handling, and every thread it creates afterwards (vCPU threads,
/// fault handlers), block both signals, so only the interrupt threads ever take them and no
/// KVM_RUN or poll(2) of the run is cut short with EINTR; threads that existed before (Dispatch's)
/// may still take one, and the handler's SA_RESTART restarts their system calls.
enum InterruptGuard {
    /// Signals received so far.
    static let received = Atomic<Int>(0)
    /// Write ends of the two pipes (first signal, later signals); -1 until installed. Atomics
    /// (lock-free, so async-signal-safe to load) because the signal handler reads them.
    static let firstWrite = Atomic<Int32>(-1)
    static let laterWrite = Atomic<Int32>(-1)
    private static let onFirst = Mutex<(@Sendable (Int32) -> Void)?>(nil)

    /// Installs the handlers (once per process); `handler` runs on the first signal and replaces
    /// any earlier one.
    static func install(_ handler: @escaping @Sendable (Int32) -> Void) {
        onFirst.withLock { $0 = handler }
        _ = installed
        // The calling thread (and every thread it creates from now on: vCPU threads, fault
        // handlers) blocks the two signals, so they reach the interrupt threads and never cut a
        // vCPU's KVM_RUN or a handler's poll(2) short with EINTR while the run shuts down.
        changeInterruptMask(SIG_BLOCK)
    }

    private static let installed: Void = {
        _ = received.load(ordering: .relaxed) // initialise before a signal handler can touch it
        let first = makePipe(), later = makePipe()
        firstWrite.store(first.write, ordering: .sequentiallyConsistent)
        laterWrite.store(later.write, ordering: .sequentiallyConsistent)
        startThread(name: "kvmbench-interrupt") {
            changeInterruptMask(SIG_UNBLOCK)
            let signalNumber = readSignal(from: first.read)
            if let handler = onFirst.withLock({ $0 }) { handler(signalNumber) } else { exit(128 + signalNumber) }
        }
        startThread(name: "kvmbench-interrupt-2") {
            changeInterruptMask(SIG_UNBLOCK)
            let signalNumber = readSignal(from: later.read)
            HostChangeLedger.restoreOwn()
            writeIfReady(2, "\nkvmbench: second signal \(signalNumber): exiting at once (host changes restored; the result file keeps the cases written so far)\n")
            _exit(128 + signalNumber)
        }
        for signalNumber in [SIGINT, SIGTERM] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = interruptSignalHandler
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(signalNumber, &action, nil)
        }
    }()

    /// Blocks or unblocks SIGINT and SIGTERM on the calling thread. A process-directed signal goes
    /// to a thread that does not block it; the two interrupt threads unblock them (a parent may
    /// even have started kvmbench with them blocked: the mask survives exec, and a test runner's
    /// worker threads block everything), so the signals are always delivered, to them.
    private static func changeInterruptMask(_ how: Int32) {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(how, &set, nil)
    }

    /// A pipe whose write end never blocks (the handler must not), both ends closed on exec.
    private static func makePipe() -> (read: Int32, write: Int32) {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { fatalError("pipe(2) for signal handling failed: \(String(cString: strerror(errno)))") }
        for fd in ends { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        _ = fcntl(ends[1], F_SETFL, fcntl(ends[1], F_GETFL) | O_NONBLOCK)
        return (ends[0], ends[1])
    }

    private static func readSignal(from fd: Int32) -> Int32 {
        var value: Int32 = 0
        while true {
            let count = read(fd, &value, MemoryLayout<Int32>.size)
            if count == MemoryLayout<Int32>.size { return value }
            if count < 0 && errno == EINTR { continue }
            // The pipe cannot close while the process lives; wait rather than spin.
            sleep(3600)
        }
    }

    private static func startThread(name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread(block: body)
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Writes `text` to `fd` only if that cannot block (a full pipe to a stuck reader must not
    /// keep the process alive).
    static func writeIfReady(_ fd: Int32, _ text: String) {
        var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard poll(&poller, 1, 0) == 1, poller.revents & Int16(POLLOUT) != 0 else { return }
        var bytes = Array(text.utf8)
        _ = write(fd, &bytes, bytes.count)
    }
}

/// The SIGINT/SIGTERM handler: async-signal-safe work only (an atomic add and a write(2)).
private func interruptSignalHandler(_ signalNumber: Int32) {
    let count = InterruptGuard.received.add(1, ordering: .sequentiallyConsistent).newValue
    var value = signalNumber
    let fd = count == 1 ? InterruptGuard.firstWrite.load(ordering: .sequentiallyConsistent)
                        : InterruptGuard.laterWrite.load(ordering: .sequentiallyConsistent)
    _ = write(fd, &value, MemoryLayout<Int32>.size)
}
