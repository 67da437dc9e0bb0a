import Backings
import CHwloc
import Foundation
import KVM
import Results

/// Reads what this host is and can do: kernel, CPU, topology, THP and hugepage pools, the KVM
/// module and its parameters, and the capabilities kvmbench uses. Never changes anything.
public enum HostProbe {
    /// The fingerprint recorded with every result.
    public static func fingerprint(kvm: borrowing KVMSystem) -> HostFingerprint {
        var capabilities: [String: Int] = [:]
        for capability in Capability.allCases { capabilities[capability.description] = kvm.check(capability) }
        return fingerprint(apiVersion: kvm.apiVersion, capabilities: capabilities)
    }

    static func fingerprint(apiVersion: Int, capabilities: [String: Int]) -> HostFingerprint {
        let topology = Topology.probe()
        let module = kvmModule(), parameters = kvmParameters(), model = cpuModel()
        return HostFingerprint(
            hostname: ProcessInfo.processInfo.hostName,
            kernelRelease: read("/proc/sys/kernel/osrelease") ?? "unknown",
            cpuModel: model,
            onlineCPUs: ProcessInfo.processInfo.activeProcessorCount,
            memTotalBytes: meminfo("MemTotal") ?? 0,
            numaNodes: topology?.numaNodes ?? 1,
            kvmModule: module,
            kvmParameters: parameters,
            kvmAPIVersion: apiVersion,
            capabilities: capabilities,
            thpMode: selected(read("/sys/kernel/mm/transparent_hugepage/enabled") ?? "unknown"),
            hugepagePools: HugepagePool.snapshot(),
            topology: topology,
            mmu: MMUKind.classify(kvmModule: module, parameters: parameters),
            emulated: isEmulated(hypervisorVendor: HostCPU.hypervisorVendor, cpuModel: model),
            isGuest: cpuFlags().map { $0.contains("hypervisor") },
            kernelCommandLine: read("/proc/cmdline"),
            microcode: cpuinfoField("microcode"))
    }

    /// Whether the CPU is an emulator's: QEMU's software emulation (TCG) signs CPUID leaf
    /// 0x40000000 "TCGTCGTCGTCG" and, with `-cpu max` or `qemu64`, names its model "QEMU TCG CPU".
    static func isEmulated(hypervisorVendor: String?, cpuModel: String) -> Bool {
        hypervisorVendor == "TCGTCGTCGTCG" || cpuModel.contains("QEMU TCG")
    }

    /// The limits scenarios validate against.
    public static func limits(kvm: borrowing KVMSystem) -> HostLimits {
        var limits = HostLimits(maxVCPUs: max(kvm.check(.maxVCPUs), kvm.check(.nrVCPUs)), memslots: kvm.check(.nrMemslots),
                                memAvailable: meminfo("MemAvailable"))
        limits.dirtyRingMaxBytes = max(kvm.check(.dirtyLogRingAcqRel), kvm.check(.dirtyLogRing))
        limits.manualDirtyLogProtectFlags = kvm.check(.manualDirtyLogProtect2)
        return limits
    }

    /// Whether each backing can be had on this host, by mapping one page of it (unmapped at once;
    /// hugetlb pools are not grown): "ok" or "unsupported: <reason>".
    public static func backingSupport() -> [(backing: String, status: String)] {
        BackingKind.allCases.map { kind -> (String, String) in
            do throws(BackingUnsupported) {
                _ = try HostMemory(kind: kind, size: kind.pageSize, allowReservation: false)
                return (kind.rawValue, "ok")
            } catch {
                return (kind.rawValue, "unsupported: \(error.reason)")
            }
        }
    }

    /// Pages of the hugetlb pool of `size` ("2M" or "1G") a new mapping can still get.
    public static func hugepagesAvailable(_ size: String) -> Int? {
        HugepagePool.available(size == "2M" ? .size2m : .size1g)
    }

    // MARK: Sources

    static func read(_ path: String) -> String? {
        (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A field of /proc/meminfo in bytes.
    public static func meminfo(_ field: String) -> UInt64? {
        guard let text = read("/proc/meminfo") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, let kib = UInt64(parts[1]) { return kib * 1024 }
        }
        return nil
    }

    static func cpuModel() -> String {
        cpuinfoField("model name") ?? "unknown"
    }

    /// The first CPU's `field` in /proc/cpuinfo ("model name", "microcode"), nil when absent.
    static func cpuinfoField(_ field: String) -> String? {
        guard let text = read("/proc/cpuinfo") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field) {
            guard let colon = line.firstIndex(of: ":"),
                  line[..<colon].trimmingCharacters(in: .whitespaces) == field else { continue }
            return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    /// The first CPU's flags (x86 "flags", arm64 "Features"); nil when /proc/cpuinfo has none.
    static func cpuFlags() -> Set<String>? {
        guard let flags = cpuinfoField("flags") ?? cpuinfoField("Features") else { return nil }
        return Set(flags.split(separator: " ").map(String.init))
    }

    /// "always [madvise] never" -> "madvise".
    static func selected(_ text: String) -> String {
        guard let open = text.firstIndex(of: "["), let close = text.firstIndex(of: "]") else { return text }
        return String(text[text.index(after: open)..<close])
    }

    /// The vendor module that serves /dev/kvm.
    static func kvmModule() -> String {
        for module in ["kvm_intel", "kvm_amd", "kvm_pvm"] where FileManager.default.fileExists(atPath: "/sys/module/\(module)") {
            return module
        }
        return FileManager.default.fileExists(atPath: "/sys/module/kvm") ? "kvm" : "none"
    }

    /// Every readable parameter of kvm and kvm_* modules, as "module.parameter" -> value.
    static func kvmParameters() -> [String: String] {
        var out: [String: String] = [:]
        let modules = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/module")) ?? []
        for module in modules where module == "kvm" || module.hasPrefix("kvm_") {
            let directory = "/sys/module/\(module)/parameters"
            for parameter in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
                if let value = read("\(directory)/\(parameter)") { out["\(module).\(parameter)"] = value }
            }
        }
        return out
    }
}

extension Topology {
    /// The topology as hwloc sees it, or nil when hwloc cannot load it.
    static func probe() -> Topology? {
        var topology: hwloc_topology_t?
        guard hwloc_topology_init(&topology) == 0, let topology else { return nil }
        defer { hwloc_topology_destroy(topology) }
        guard hwloc_topology_load(topology) == 0 else { return nil }
        func count(_ type: hwloc_obj_type_t) -> Int { Int(max(0, hwloc_get_nbobjs_by_depth(topology, hwloc_get_type_depth(topology, type)))) }
        func objects(_ type: hwloc_obj_type_t) -> [hwloc_obj_t] {
            let depth = hwloc_get_type_depth(topology, type)
            guard depth >= 0 else { return [] }
            return (0..<hwloc_get_nbobjs_by_depth(topology, depth)).compactMap { hwloc_get_obj_by_depth(topology, depth, $0) }
        }
        var caches: [String: UInt64] = [:]
        for (type, name) in [(HWLOC_OBJ_L1CACHE, "L1d"), (HWLOC_OBJ_L2CACHE, "L2"), (HWLOC_OBJ_L3CACHE, "L3")] {
            if let first = objects(type).first, let attr = first.pointee.attr { caches[name] = attr.pointee.cache.size }
        }
        let coreCPUs: [[Int]] = objects(HWLOC_OBJ_CORE).map { core in
            var cpus: [Int] = []
            guard let set = core.pointee.cpuset else { return cpus }
            var index = hwloc_bitmap_first(set)
            while index >= 0 {
                cpus.append(Int(index))
                index = hwloc_bitmap_next(set, index)
            }
            return cpus
        }
        return Topology(packages: count(HWLOC_OBJ_PACKAGE), numaNodes: max(1, count(HWLOC_OBJ_NUMANODE)),
                        cores: count(HWLOC_OBJ_CORE), processingUnits: count(HWLOC_OBJ_PU), caches: caches,
                        coreCPUs: coreCPUs)
    }
}
