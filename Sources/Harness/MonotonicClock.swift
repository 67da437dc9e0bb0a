import Glibc

/// The one reader of the monotonic clock in kvmbench: every timed region, watchdog and progress
/// estimate takes its time from here, so they all count the same nanoseconds. CLOCK_MONOTONIC
/// never jumps with the wall clock (NTP steps, settimeofday) and keeps counting while a thread
/// waits; the kernel serves it from the vDSO, so a read is no system call and allocates nothing,
/// which is what lets it sit at both ends of a timed region.
public enum MonotonicClock {
    /// Nanoseconds since an arbitrary point fixed at boot.
    @inline(__always)
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// Seconds from `start` (a value of `now()`) to now.
    public static func seconds(since start: UInt64) -> Double {
        Double(now() &- start) / 1e9
    }
}
