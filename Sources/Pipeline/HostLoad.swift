import Harness
import Backings
import Foundation
import Results

/// How busy the rest of the host was while kvmbench measured: CPU time used by other processes as
/// a percentage of all CPUs' time.
///
/// Two runs of the same code differ when other work competes for the CPUs in one and not the other
/// (on this project's 2-core hosts, a parallel build halves a 2-vCPU guest's speed). Every
/// repetition records this as the metric `host_busy` (not gated), and comparisons treat a case
/// whose median is above the suite's `max_host_busy` on either side as noisy: no verdict, and the
/// gate says the host was too busy instead of reporting a regression.
///
/// Source: the CPU time of every other process, from /proc/PID/stat (utime + stime, and cutime +
/// cstime: what its children used that it reaped, so short-lived compiler processes of a build
/// count too), over the wall time times the online CPUs. Left out: this process and its children
/// (a selftest binary it runs), and kernel threads (PF_KTHREAD): they do kvmbench's own work
/// (kcompactd and khugepaged for THP backings, RCU and workqueue work after memslot changes), and
/// counting them, as the host-wide /proc/stat total less kvmbench's own time did, called an idle
/// 2-core host 11% to 19% busy during the nightly's THP and memslot cases. Stolen time
/// (/proc/stat's steal) is left out too: on a host that is itself a guest (this project's, under
/// kvm_pvm) it includes the outer hypervisor's work for this guest's own VM exits, 3% to 7% of
/// both CPUs while the nightly's memslot cases ran on an otherwise idle host and 11.5% over its
/// 32k-slot case, which called a quiet night busy.
public struct HostLoad: Sendable {
    /// Recorded on every case, never gated: a busy host explains noise, it is not a regression.
    public static let metric = MetricDefinition("host_busy", unit: .percent, better: .lower, gated: false)
    public static var metricName: String { metric.name }

    /// CPU time (clock ticks) of every other process, at the snapshot.
    let others: Int
    let wall: UInt64

    /// The counters now.
    public static func snapshot() -> HostLoad {
        HostLoad(others: othersJiffies(), wall: MonotonicClock.now())
    }

    /// Percent (0...100) of all CPUs' time that others used since `self`; nil when /proc cannot be read
    /// or no time passed.
    public func othersPercent(until now: HostLoad = .snapshot()) -> Double? {
        guard others >= 0, now.others >= 0, now.wall > wall else { return nil }
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        let capacity = Double(now.wall - wall) / 1e9 * ticksPerSecond * Double(ProcessInfo.processInfo.activeProcessorCount)
        guard capacity > 0 else { return nil }
        return min(100, max(0, Double(now.others - others) / capacity * 100))
    }

    /// The ticks of every process but this one, its children and kernel threads; -1 when /proc
    /// cannot be read.
    static func othersJiffies() -> Int {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return -1 }
        var total = 0
        let me = Int(getpid())
        for entry in entries {
            guard let pid = Int(entry), pid != me, let fields = ProcessStat.fields(pid: pid),
                  fields.count > 14, Int(fields[1]) != me,
                  let flags = UInt(fields[6]), flags & kernelThreadFlag == 0 else { continue }
            total += fields[11...14].reduce(0) { $0 + (Int($1) ?? 0) }
        }
        return total
    }

    /// PF_KTHREAD in /proc/PID/stat's flags.
    static let kernelThreadFlag: UInt = 0x0020_0000

    /// This process's own ticks: its threads' and the children's it reaped.
    static func ownJiffies() -> Int {
        guard let fields = ProcessStat.fields(pid: Int(getpid())), fields.count > 14 else { return 0 }
        return fields[11...14].reduce(0) { $0 + (Int($1) ?? 0) }
    }
}
