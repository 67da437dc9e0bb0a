import Host

/// The thread that runs a repetition (builds the guest, issues the memslot, dirty-log and stats
/// ioctls, times the phases the vCPUs do not). The scheduler may move it between CPUs that are
/// not alike (on this project's 2-CPU host, slot setup differs by ~20% between them), so where it
/// ran is recorded with every repetition.
public enum MeasuringThread {
    /// The CPU the calling thread is on now (getcpu(2)); -1 when the kernel does not say.
    public static func currentCPU() -> Int { Placement.currentCPU() }
}

extension MeasuringThread {
    /// A remark when the measuring thread did not stay on one CPU over a case's repetitions
    /// (`cpus`: start and end CPU per repetition): its figures mix CPUs that may not be alike.
    public static func note(_ cpus: [[Int]]) -> String? {
        let seen = Set(cpus.flatMap { $0 }.filter { $0 >= 0 })
        guard seen.count > 1 else { return nil }
        let moved = cpus.filter { Set($0).count > 1 }.count
        return "the measuring thread ran on CPUs \(seen.sorted().map(String.init).joined(separator: ", ")) across the repetitions"
            + (moved > 0 ? " (moved during \(moved) of \(cpus.count))" : "")
            + " (measuring_cpus); --pin auto, or a CPU list with one CPU more than vCPUs, pins it"
    }
}
