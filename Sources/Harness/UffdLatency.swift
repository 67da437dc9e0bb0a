import Backings
import Dispatch
import Foundation
import Glibc
import Histogram
import KVM
import SystemPackage

/// What the handler threads of one run did, and how long they took per fault.
public struct UffdReport: Sendable {
    /// Pages resolved by UFFDIO_COPY / UFFDIO_CONTINUE (successful calls).
    public var resolved: Int = 0
    /// Page-fault messages read.
    public var messages: Int = 0
    /// Resolutions that found the page already there (EEXIST: two vCPUs faulted on one page and
    /// another reader won); answered with UFFDIO_WAKE.
    public var alreadyPresent: Int = 0
    /// Latencies beyond the histograms' range (100 s), not recorded (0 unless a handler stalled).
    public var dropped: Int = 0
    /// Wake-ups that found no message (another reader took it): with exclusive wake-ups, rare.
    public var emptyWakeups: Int = 0
    /// Per handler (one per uffd): pages resolved.
    public var resolvedPerHandler: [Int] = []
    /// Handler latency: the handler's wake-up (epoll_wait return) to resolution done, excluding
    /// `--uffd-delay`, in ns. The time the faulting thread waited before the handler woke is not in it.
    public var handlerLatency: LatencySummary
    /// Wake-up to the message read (the read(2) itself), in ns.
    public var readLatency: LatencySummary
    /// UFFDIO_COPY / UFFDIO_CONTINUE alone, in ns.
    public var resolveLatency: LatencySummary
    /// From one resolution done to the next message read on the same uffd, in ns: the faulting
    /// thread's wake-up, its run to the next fault, KVM's fault path up to handle_userfault, and
    /// the handler's wake-up. Meaningful only with one vCPU and one reader per uffd (else nil).
    public var faultToRead: LatencySummary?
    /// Per handler: median handler latency in ns.
    public var medianPerHandler: [Double] = []
}

/// A streaming latency histogram of bounded size: HdrHistogram over 1 ns ... 100 s with 3
/// significant digits, 32-bit counts. Its memory is fixed when it is created (`bytes`), however
/// many faults it records, and `record` allocates nothing.
public struct LatencyHistogram: Sendable {
    private(set) var histogram = Histogram<UInt32>(lowestDiscernibleValue: 1, highestTrackableValue: 100_000_000_000,
                                                  numberOfSignificantValueDigits: .three)
    /// Values out of range, not recorded.
    public private(set) var dropped = 0

    public init() {}

    /// Records `nanos` (0 counts as 1 ns).
    @inline(__always)
    public mutating func record(_ nanos: UInt64) {
        if !histogram.record(Swift.max(1, nanos)) { dropped += 1 }
    }

    public mutating func add(_ other: LatencyHistogram) {
        histogram.add(other.histogram)
        dropped += other.dropped
    }

    public var count: Int { Int(histogram.totalCount) }

    public var summary: LatencySummary { LatencySummary(histogram) }

    /// Bytes one histogram holds (its counts array), for the preflight's memory estimate.
    public static let bytes: UInt64 = UInt64(LatencyHistogram().histogram.estimatedFootprintInBytes)
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
        var histogram = LatencyHistogram()
        for value in values { histogram.record(value) }
        self = histogram.summary
    }

    init(_ histogram: Histogram<UInt32>) {
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
