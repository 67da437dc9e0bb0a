import Foundation

/// KVM's host-wide statistics, around a selftest run.
///
/// A selftest's VM and vCPU binary-stats fds (KVM_GET_STATS_FD) belong to the selftest's own
/// process and die with it, so kvmbench cannot read them. What it can read is the sum over every VM
/// of the host that KVM exports in debugfs, /sys/kernel/debug/kvm/<stat> (one number per file;
/// histograms and per-VM directories are left out). kvmbench does not mount debugfs itself (that
/// would change the host); where it is not mounted the figures are absent and a note says why.
/// Other VMs running at the same time are counted too.
public enum HostKVMStats {
    public static let directory = "/sys/kernel/debug/kvm"

    /// Every plain-number stat in `directory`, or nil when it cannot be read.
    public static func snapshot(directory: String = directory) -> [String: Int64]? {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return nil }
        var out: [String: Int64] = [:]
        for name in names {
            let path = directory + "/" + name
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                  let text = try? String(contentsOfFile: path, encoding: .utf8),
                  let value = Int64(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { continue }
            out[name] = value
        }
        return out.isEmpty ? nil : out
    }

    /// after - before for every stat in both, leaving out those that did not change.
    public static func delta(before: [String: Int64], after: [String: Int64]) -> [String: Int64] {
        var out: [String: Int64] = [:]
        for (name, value) in after {
            guard let start = before[name], value != start else { continue }
            out[name] = value &- start
        }
        return out
    }

    /// The note recorded when the host-wide stats cannot be read.
    public static let unavailableNote = "KVM stats: not recorded: the selftest's VM and vCPU stats fds belong to its own process, and KVM's host-wide totals (\(directory)) need debugfs, which is not mounted here (mount -t debugfs none /sys/kernel/debug to record them; kvmbench does not mount it)"
}

/// Whether this host's KVM emulates guest code that runs at CPL0 instead of running it natively.
public enum CPL0Emulation {
    /// The notice for a host whose KVM is PVM (module kvm_pvm), nil elsewhere.
    public static func notice(moduleDirectory: String = "/sys/module") -> String? {
        guard FileManager.default.fileExists(atPath: moduleDirectory + "/kvm_pvm") else { return nil }
        return "this host's KVM is PVM (kvm_pvm), which emulates guest code running at CPL0 instruction by instruction; the KVM selftests' guests run at CPL0, so these figures measure the instruction emulator, not the MMU (kvmbench's own scenarios run their guests at CPL3)"
    }
}
