import Foundation

/// What a host is, as far as it changes MMU behaviour. Recorded with every result and baseline so
/// that numbers from different hosts are never compared silently.
public struct HostFingerprint: Codable, Sendable, Equatable {
    public var hostname: String
    public var kernelRelease: String
    public var cpuModel: String
    public var onlineCPUs: Int
    public var memTotalBytes: UInt64
    public var numaNodes: Int
    /// The module that serves /dev/kvm: kvm_intel, kvm_amd, kvm_pvm, or "unknown".
    public var kvmModule: String
    /// Every readable parameter of the kvm and kvm_* modules (module.param -> value).
    public var kvmParameters: [String: String]
    public var kvmAPIVersion: Int
    /// Capability name -> value of KVM_CHECK_EXTENSION, for the capabilities kvmbench uses.
    public var capabilities: [String: Int]
    /// /sys/kernel/mm/transparent_hugepage/enabled, the selected value.
    public var thpMode: String
    /// Hugepage pool sizes (e.g. "2M" -> nr_hugepages) when the run started.
    public var hugepagePools: [String: Int]
    /// Topology from hwloc: packages, cores, processing units, caches.
    public var topology: Topology?
    /// Which MMU serves the guests (see `MMUKind`); nil in documents written before it was recorded.
    public var mmu: MMUKind?
    /// True when the host's CPU is an emulator's (QEMU's software emulation, TCG): its timings are
    /// behaviour, not performance. nil in documents written before it was recorded.
    public var emulated: Bool?
    /// Whether the host is itself a guest (the CPU's "hypervisor" flag); nil when unreadable.
    public var isGuest: Bool?
    /// /proc/cmdline, the kernel command line; nil when unreadable.
    public var kernelCommandLine: String?
    /// The CPU microcode revision (/proc/cpuinfo "microcode"); nil when unreadable.
    public var microcode: String?

    public init(hostname: String, kernelRelease: String, cpuModel: String, onlineCPUs: Int,
                memTotalBytes: UInt64, numaNodes: Int, kvmModule: String,
                kvmParameters: [String: String], kvmAPIVersion: Int, capabilities: [String: Int],
                thpMode: String, hugepagePools: [String: Int], topology: Topology?,
                mmu: MMUKind? = nil, emulated: Bool? = nil,
                isGuest: Bool? = nil, kernelCommandLine: String? = nil, microcode: String? = nil) {
        self.isGuest = isGuest
        self.kernelCommandLine = kernelCommandLine
        self.microcode = microcode
        self.hostname = hostname
        self.kernelRelease = kernelRelease
        self.cpuModel = cpuModel
        self.onlineCPUs = onlineCPUs
        self.memTotalBytes = memTotalBytes
        self.numaNodes = numaNodes
        self.kvmModule = kvmModule
        self.kvmParameters = kvmParameters
        self.kvmAPIVersion = kvmAPIVersion
        self.capabilities = capabilities
        self.thpMode = thpMode
        self.hugepagePools = hugepagePools
        self.topology = topology
        self.mmu = mmu
        self.emulated = emulated
    }

    enum CodingKeys: String, CodingKey {
        case hostname, kernelRelease = "kernel_release", cpuModel = "cpu_model"
        case onlineCPUs = "online_cpus", memTotalBytes = "mem_total_bytes", numaNodes = "numa_nodes"
        case kvmModule = "kvm_module", kvmParameters = "kvm_parameters", kvmAPIVersion = "kvm_api_version"
        case capabilities, thpMode = "thp_mode", hugepagePools = "hugepage_pools", topology
        case mmu, emulated
        case isGuest = "is_guest", kernelCommandLine = "kernel_cmdline", microcode
    }

    /// "tdp-mmu", "pvm-shadow, emulated CPU", or "MMU unknown" for documents from before it was recorded.
    public var mmuDescription: String {
        (mmu?.rawValue ?? "MMU unknown") + (emulated == true ? ", emulated CPU" : "")
    }

    /// One field of the comparability check: its name in reports and how to read it as text (nil:
    /// not recorded or unreadable on that host, so not compared).
    public struct ComparableField: Sendable {
        public var name: String
        public var value: @Sendable (HostFingerprint) -> String?
        public init(_ name: String, _ value: @escaping @Sendable (HostFingerprint) -> String?) {
            self.name = name
            self.value = value
        }
    }

    /// The name of the one field that may differ when kernels are compared on purpose.
    public static let kernelField = "kernel_release"

    /// The fields whose difference changes what the numbers mean, in report order. One more field
    /// is one more line here. 0 (a reference document's "not stated") is not compared. Memory is
    /// compared to the tenth of a GiB (kernels reserve slightly different amounts); the command
    /// line without BOOT_IMAGE (which names the kernel).
    public static let comparableFields: [ComparableField] = [
        ComparableField(kernelField) { $0.kernelRelease },
        ComparableField("cpu_model") { $0.cpuModel },
        ComparableField("online_cpus") { $0.onlineCPUs == 0 ? nil : String($0.onlineCPUs) },
        ComparableField("mem_total") { $0.memTotalBytes == 0 ? nil : String(format: "%.1f GiB", Double($0.memTotalBytes) / 1_073_741_824) },
        ComparableField("numa_nodes") { $0.numaNodes == 0 ? nil : String($0.numaNodes) },
        ComparableField("is_guest") { $0.isGuest.map { $0 ? "yes (hypervisor flag)" : "no" } },
        ComparableField("kvm_module") { $0.kvmModule },
        ComparableField("thp_mode") { $0.thpMode },
        ComparableField("kernel_cmdline") { host in
            host.kernelCommandLine.map { $0.split(separator: " ").filter { !$0.hasPrefix("BOOT_IMAGE=") }.joined(separator: " ") }
        },
        ComparableField("microcode") { $0.microcode },
        // A different MMU, or an emulator on one side, is a different host.
        ComparableField("mmu") { $0.mmu?.rawValue },
        ComparableField("emulated") { $0.emulated.map(String.init) },
    ]

    /// The fields whose difference changes MMU behaviour, each as (field, this value, other value):
    /// `comparableFields`, then every KVM module parameter. The kernel release is listed too;
    /// callers comparing kernels on purpose may ignore it.
    public func mmuRelevantDifferences(from other: HostFingerprint) -> [(field: String, mine: String, theirs: String)] {
        var out: [(String, String, String)] = []
        func check(_ name: String, _ a: String, _ b: String) { if a != b { out.append((name, a, b)) } }
        for field in Self.comparableFields {
            guard let mine = field.value(self), let theirs = field.value(other) else { continue }
            check(field.name, mine, theirs)
        }
        for key in Set(kvmParameters.keys).union(other.kvmParameters.keys).sorted() {
            check("kvm_parameters.\(key)", kvmParameters[key] ?? "-", other.kvmParameters[key] ?? "-")
        }
        return out
    }
}

/// The MMU that maps guest memory, as the KVM module and its parameters say.
public enum MMUKind: String, Codable, Sendable, Equatable, CaseIterable {
    /// EPT or NPT with KVM's TDP MMU (`kvm.tdp_mmu=Y`): what current bare-metal hosts run.
    case tdpMMU = "tdp-mmu"
    /// EPT or NPT with the older, shadow-page-based TDP code (`tdp_mmu=N`, or a kernel without it).
    case legacyTDP = "legacy-tdp"
    /// Shadow paging on a hardware-virtualizing KVM (`kvm_intel.ept=N` or `kvm_amd.npt=N`).
    case shadow
    /// PVM (`kvm_pvm`): a KVM without VMX/SVM that runs its guests under shadow paging.
    case pvmShadow = "pvm-shadow"

    /// The kind for a KVM vendor module and the parameters of the kvm and kvm_* modules
    /// ("module.parameter" -> value, as `HostFingerprint.kvmParameters`); nil without KVM.
    public static func classify(kvmModule: String, parameters: [String: String]) -> MMUKind? {
        func on(_ key: String) -> Bool? {
            parameters[key].map { ["Y", "y", "1"].contains($0) }
        }
        let twoDimensional: Bool?
        switch kvmModule {
        case "kvm_pvm": return .pvmShadow
        case "kvm_intel": twoDimensional = on("kvm_intel.ept")
        case "kvm_amd": twoDimensional = on("kvm_amd.npt")
        default: return nil
        }
        guard let twoDimensional else { return nil }
        guard twoDimensional else { return .shadow }
        return on("kvm.tdp_mmu") == true ? .tdpMMU : .legacyTDP
    }
}

/// The host's CPU and memory topology as hwloc reports it.
public struct Topology: Codable, Sendable, Equatable {
    public var packages: Int
    public var numaNodes: Int
    public var cores: Int
    public var processingUnits: Int
    /// Cache levels and sizes, e.g. "L1d" -> 32768.
    public var caches: [String: UInt64]
    /// Per core, its processing-unit (logical CPU) numbers: SMT siblings share a core.
    public var coreCPUs: [[Int]]
    public init(packages: Int, numaNodes: Int, cores: Int, processingUnits: Int,
                caches: [String: UInt64], coreCPUs: [[Int]]) {
        self.packages = packages
        self.numaNodes = numaNodes
        self.cores = cores
        self.processingUnits = processingUnits
        self.caches = caches
        self.coreCPUs = coreCPUs
    }
    enum CodingKeys: String, CodingKey {
        case packages, numaNodes = "numa_nodes", cores, processingUnits = "processing_units", caches
        case coreCPUs = "core_cpus"
    }
}
