import Foundation
import Results

/// How busy the rest of the host was while kvmbench measured: CPU time used by other processes
/// (and stolen by an outer hypervisor) as a percentage of all CPUs' time.
///
/// Two runs of the same code differ when other work competes for the CPUs in one and not the other
/// (on this project's 2-core hosts, a parallel build halves a 2-vCPU guest's speed). Every
/// repetition records this as the metric `host_busy` (not gated), and comparisons treat a case
/// whose median is above the suite's `max_host_busy` on either side as noisy: no verdict, and the
/// gate says the host was too busy instead of reporting a regression.
///
/// Source: /proc/stat's first line (user + nice + system + irq + softirq + steal of all CPUs) less
/// this process's own utime + stime (/proc/self/stat, all threads: vCPU threads and KVM's per-VM
/// kernel tasks included) and cutime + cstime (children it waited for: a selftest binary), over
/// the wall time times the online CPUs.
public struct HostLoad: Sendable {
    /// Recorded on every case, never gated: a busy host explains noise, it is not a regression.
    public static let metric = MetricDefinition("host_busy", unit: .percent, better: .lower, gated: false)
    public static var metricName: String { metric.name }

    let busy: Int
    let own: Int
    let wall: UInt64

    /// The counters now.
    public static func snapshot() -> HostLoad {
        HostLoad(busy: busyJiffies(), own: ownJiffies(), wall: DispatchTime.now().uptimeNanoseconds)
    }

    /// Percent (0...100) of all CPUs' time that others used since `self`; nil when /proc cannot be read
    /// or no time passed.
    public func othersPercent(until now: HostLoad = .snapshot()) -> Double? {
        guard busy > 0, now.busy > 0, now.wall > wall else { return nil }
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        let capacity = Double(now.wall - wall) / 1e9 * ticksPerSecond * Double(ProcessInfo.processInfo.activeProcessorCount)
        guard capacity > 0 else { return nil }
        let others = Double((now.busy - busy) - (now.own - own))
        return min(100, max(0, others / capacity * 100))
    }

    static func busyJiffies() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return 0 }
        let fields = line.split(separator: " ").dropFirst().compactMap { Int($0) }
        guard fields.count >= 8 else { return 0 }
        return fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7]
    }

    static func ownJiffies() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return 0 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 14, let user = Int(fields[11]), let system = Int(fields[12]),
              let childUser = Int(fields[13]), let childSystem = Int(fields[14]) else { return 0 }
        // Children kvmbench waited for (a selftest binary it ran) are its own work too.
        return user + system + childUser + childSystem
    }
}
