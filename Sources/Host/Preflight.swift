import Backings
import Foundation
import Glibc
import KVM

/// What one case will take from the host: enough to check, before any VM exists, that the host
/// can give it.
public struct PreflightDemand: Sendable, Equatable {
    /// How the case is named in messages ("case 2 (demand-paging vcpus=2 ...)").
    public var label: String
    public var vcpus: Int
    /// Bytes of guest test memory.
    public var testSize: UInt64
    public var backing: BackingKind
    public var reserveHugepages: Bool
    /// File descriptors beyond the VM's own (userfaultfds, their pipe).
    public var extraFiles: Int
    /// Host memory kvmbench allocates for the case beyond the guest's (handler histograms, dirty bitmaps).
    public var bufferBytes: UInt64

    public init(label: String, vcpus: Int, testSize: UInt64, backing: BackingKind,
                reserveHugepages: Bool, extraFiles: Int = 0, bufferBytes: UInt64 = 0) {
        self.label = label
        self.vcpus = vcpus
        self.testSize = testSize
        self.backing = backing
        self.reserveHugepages = reserveHugepages
        self.extraFiles = extraFiles
        self.bufferBytes = bufferBytes
    }

    /// Memory besides the guest's: KVM's shadow/TDP page tables and rmaps (about 1/256 of guest
    /// memory at 4 KiB pages: 8 bytes of PTE and 8 of rmap per 4 KiB), plus kvmbench itself. The
    /// same estimate `GuestConfiguration.problem` uses, plus the case's own buffers.
    public var overhead: UInt64 { testSize / 256 + (64 << 20) + bufferBytes }

    /// Open files while the case runs: stdio and kvmbench's own (output file, hwloc, ...), the
    /// /dev/kvm fd, the VM fd and its stats fd, two per vCPU (the vCPU fd and its stats fd), the
    /// memfd of a shared backing, and `extraFiles`.
    public var openFiles: Int { Preflight.baseFiles + 2 + 2 * vcpus + (backing.isShared ? 1 : 0) + extraFiles }
}

/// What the host has, read once.
public struct PreflightHost: Sendable {
    public var memAvailable: UInt64?
    /// Per hugetlb pool: pages available to a new mapping (free minus reserved), nil when the host has no such pool.
    public var hugepagesAvailable: [HugepageSize: Int]
    /// Whether kvmbench may write the pool's nr_hugepages (root).
    public var hugepagesWritable: [HugepageSize: Bool]
    /// RLIMIT_NOFILE.
    public var fileLimit: (soft: UInt64, hard: UInt64)

    public init(memAvailable: UInt64?, hugepagesAvailable: [HugepageSize: Int], hugepagesWritable: [HugepageSize: Bool],
                fileLimit: (soft: UInt64, hard: UInt64)) {
        self.memAvailable = memAvailable
        self.hugepagesAvailable = hugepagesAvailable
        self.hugepagesWritable = hugepagesWritable
        self.fileLimit = fileLimit
    }

    /// This host now.
    public static func current() -> PreflightHost {
        var available: [HugepageSize: Int] = [:]
        var writable: [HugepageSize: Bool] = [:]
        for size in HugepageSize.allCases {
            available[size] = HugepagePool.available(size)
            writable[size] = access(Preflight.poolFile(size), W_OK) == 0
        }
        return PreflightHost(memAvailable: HostProbe.meminfo("MemAvailable"), hugepagesAvailable: available,
                             hugepagesWritable: writable, fileLimit: Preflight.fileLimit())
    }
}

/// One thing the pre-flight check found.
public struct PreflightFinding: Sendable, Equatable {
    public enum Severity: Sendable, Equatable {
        /// The run cannot work: refuse it before any VM exists.
        case refusal
        /// The run goes ahead; the user should know (e.g. a case will be unsupported).
        case notice
    }
    public var severity: Severity
    public var message: String
    public init(_ severity: Severity, _ message: String) {
        self.severity = severity
        self.message = message
    }
}

/// Checks, before the first VM, that the host can run every case of a run: memory, hugepages,
/// open files, /dev/kvm, and the output path. Cases run one at a time, so each is checked on its
/// own (the largest decides), never their sum. Every refusal says what is short and by how much.
public enum Preflight {
    /// Files kvmbench has open besides the VM's (stdio, the output file and its temporary, hwloc
    /// and libnuma, Foundation, a margin).
    public static let baseFiles = 32

    /// The nr_hugepages file of a pool.
    static func poolFile(_ size: HugepageSize) -> String {
        "/sys/kernel/mm/hugepages/hugepages-\(size == .size2m ? 2048 : 1_048_576)kB/nr_hugepages"
    }

    public static func check(_ demands: [PreflightDemand], host: PreflightHost) -> [PreflightFinding] {
        var findings: [PreflightFinding] = []
        findings += memory(demands, host: host)
        findings += hugepages(demands, host: host)
        if let files = files(demands, limit: host.fileLimit) { findings.append(files) }
        return findings
    }

    /// The case needing the most memory against MemAvailable (hugetlb cases are checked against
    /// their pool instead: pool pages are not part of MemAvailable).
    static func memory(_ demands: [PreflightDemand], host: PreflightHost) -> [PreflightFinding] {
        guard let available = host.memAvailable else { return [] }
        // Hugetlb guest memory comes from its pool; kvmbench's own buffers still come from MemAvailable.
        func needed(_ demand: PreflightDemand) -> UInt64 { (demand.backing.hugetlbPool == nil ? demand.testSize : 0) + demand.overhead }
        guard let largest = demands.max(by: { needed($0) < needed($1) }) else { return [] }
        let needed = needed(largest)
        guard needed > available else { return [] }
        return [PreflightFinding(.refusal, "\(largest.label) needs about \(formatBytes(needed)) of memory (guest \(formatBytes(largest.testSize)) plus page tables and kvmbench) and the host has \(formatBytes(available)) available (MemAvailable): short by \(formatBytes(needed - available)); lower --vcpus or --mem-per-vcpu")]
    }

    /// Each hugetlb case against its pool: pages free now, plus what `--reserve-hugepages` could
    /// add. A reservation takes memory from MemAvailable, so MemAvailable less kvmbench's
    /// overhead bounds it from above (the kernel may still find less contiguous memory).
    static func hugepages(_ demands: [PreflightDemand], host: PreflightHost) -> [PreflightFinding] {
        var findings: [PreflightFinding] = []
        var noticed = Set<String>()
        for demand in demands {
            guard let pool = demand.backing.hugetlbPool else { continue }
            let needed = Int(demand.testSize / pool.bytes)
            guard let free = host.hugepagesAvailable[pool] ?? nil else {
                let line = "\(demand.backing.rawValue): this host has no \(pool.rawValue) hugetlb pool; its cases will be unsupported"
                if noticed.insert(line).inserted { findings.append(PreflightFinding(.notice, line)) }
                continue
            }
            guard needed > free else { continue }
            let missing = needed - free
            if !demand.reserveHugepages {
                findings.append(PreflightFinding(.notice, "\(demand.label) needs \(needed) free \(pool.rawValue) hugepages and the pool has \(free) (short by \(missing)): it will be unsupported unless you add --reserve-hugepages"))
                continue
            }
            guard host.hugepagesWritable[pool] == true else {
                findings.append(PreflightFinding(.refusal, "\(demand.label) needs \(missing) more \(pool.rawValue) hugepages than the pool has free (\(free) of \(needed)), and --reserve-hugepages cannot write \(poolFile(pool)) (needs root)"))
                continue
            }
            guard let available = host.memAvailable else { continue }
            let spare = available > 64 << 20 ? available - (64 << 20) : 0
            let reservable = Int(spare / pool.bytes)
            if reservable < missing {
                findings.append(PreflightFinding(.refusal, "\(demand.label) needs \(needed) \(pool.rawValue) hugepages: the pool has \(free) free, and MemAvailable (\(formatBytes(available))) leaves room to reserve at most \(reservable) more: short by \(missing - reservable) pages (\(formatBytes(UInt64(missing - reservable) * pool.bytes))); lower --vcpus or --mem-per-vcpu"))
            } else if pool == .size1g {
                let line = "\(demand.label) will reserve \(missing) 1G hugepages: the kernel needs 1 GiB of contiguous free memory for each, which a fragmented host may not have (the case is then unsupported)"
                if noticed.insert(line).inserted { findings.append(PreflightFinding(.notice, line)) }
            }
        }
        return findings
    }

    /// The case needing the most open files against RLIMIT_NOFILE. Raising the soft limit up to
    /// the hard one is this process's own business, so a short soft limit is raised (a notice);
    /// only a short hard limit refuses the run.
    static func files(_ demands: [PreflightDemand], limit: (soft: UInt64, hard: UInt64)) -> PreflightFinding? {
        guard let largest = demands.max(by: { $0.openFiles < $1.openFiles }) else { return nil }
        let needed = UInt64(largest.openFiles)
        if needed <= limit.soft { return nil }
        if needed > limit.hard {
            return PreflightFinding(.refusal, "\(largest.label) needs about \(needed) open files (2 per vCPU for \(largest.vcpus) vCPUs: the vCPU fd and its stats fd, plus the VM's and kvmbench's own) and RLIMIT_NOFILE allows \(limit.hard) (hard limit): short by \(needed - limit.hard); raise it (ulimit -Hn) or lower --vcpus")
        }
        return PreflightFinding(.notice, "\(largest.label) needs about \(needed) open files and the RLIMIT_NOFILE soft limit is \(limit.soft): kvmbench raises it to \(needed) (hard limit \(limit.hard))")
    }

    /// RLIMIT_NOFILE as (soft, hard).
    public static func fileLimit() -> (soft: UInt64, hard: UInt64) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return (UInt64.max, UInt64.max) }
        return (UInt64(limit.rlim_cur), UInt64(limit.rlim_max))
    }

    /// Raises the RLIMIT_NOFILE soft limit to `files` (at most the hard limit). True on success.
    @discardableResult
    public static func raiseFileLimit(to files: UInt64) -> Bool {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return false }
        guard UInt64(limit.rlim_cur) < files else { return true }
        limit.rlim_cur = rlim_t(min(files, UInt64(limit.rlim_max)))
        return setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0
    }

    /// The problem with the KVM device at `path` (missing, not a character device, no read/write
    /// access), or nil when kvmbench can open it.
    public static func deviceProblem(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            return "\(path) does not exist: this host has no KVM (load kvm_intel, kvm_amd or kvm_pvm)"
        }
        guard info.st_mode & S_IFMT == S_IFCHR else { return "\(path) is not a character device" }
        guard access(path, R_OK | W_OK) == 0 else {
            return "\(path) is not readable and writable by this user (\(String(cString: strerror(errno)))): add the user to the kvm group or run as root"
        }
        return nil
    }

    /// The problem with writing results to `path` (`-o`): its directory must already exist and be
    /// writable (kvmbench creates nothing outside where it was pointed), and the path must not be
    /// a directory. nil when it is fine.
    public static func outputProblem(_ path: String) -> String? {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            return "-o \(path) is a directory; give a file name (e.g. \(url.appendingPathComponent("results.json").path))"
        }
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            return "-o \(path): the directory \(directory) does not exist; create it first (kvmbench creates nothing outside where it is pointed)"
        }
        guard isDirectory.boolValue else { return "-o \(path): \(directory) is not a directory" }
        guard access(directory, W_OK | X_OK) == 0 else {
            return "-o \(path): the directory \(directory) is not writable (\(String(cString: strerror(errno))))"
        }
        // access(2) says yes to root everywhere; only creating a file shows that files can be made
        // there (not so in /proc, /sys, a read-only mount).
        let probe = directory + "/.kvmbench-probe-\(getpid())"
        let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            return "-o \(path): cannot create files in \(directory) (\(String(cString: strerror(errno)).lowercased())); choose a writable directory"
        }
        close(fd)
        unlink(probe)
        return nil
    }
}
