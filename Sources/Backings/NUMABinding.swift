import CNUMA
import Foundation
import Glibc
import KVM
import SystemPackage

/// `--numa-node N` / `--numa-interleave`: the memory policy of the guest's test memory.
public enum NUMAPolicy: Sendable, Equatable, CustomStringConvertible {
    /// MPOL_BIND to one node: every page of the range comes from that node or the fault fails.
    case bind(Int)
    /// MPOL_INTERLEAVE over these nodes: page i of the range comes from node (i mod count).
    case interleave([Int])

    public var description: String {
        switch self {
        case .bind(let node): "bound to node \(node)"
        case .interleave(let nodes): "interleaved over nodes \(nodes.map(String.init).joined(separator: ","))"
        }
    }
}

/// The host's NUMA nodes, through libnuma.
public enum NUMAHost {
    /// True when the kernel has NUMA support (get_mempolicy works); libnuma's other calls are
    /// valid only then.
    public static var available: Bool { numa_available() >= 0 }

    /// Nodes this process may allocate memory on (numa_get_mems_allowed: online nodes with memory,
    /// narrowed by a cgroup cpuset's mems). [0] on a kernel without NUMA.
    public static func nodes() -> [Int] {
        guard available else { return [0] }
        guard let mask = numa_get_mems_allowed() else { return [0] }
        defer { numa_bitmask_free(mask) }
        let highest = max(0, Int(numa_max_node()))
        let nodes = (0...highest).filter { numa_bitmask_isbitset(mask, UInt32($0)) != 0 }
        return nodes.isEmpty ? [0] : nodes
    }

    /// Total and free bytes of `node` (numa_node_size64), or nil when libnuma cannot tell.
    public static func size(of node: Int) -> (total: UInt64, free: UInt64)? {
        guard available else { return nil }
        var free: Int64 = 0
        let total = numa_node_size64(Int32(node), &free)
        guard total >= 0 else { return nil }
        return (UInt64(total), UInt64(max(0, free)))
    }

    /// Free hugepages of `pool` on `node` (per-node sysfs), or nil when the file does not exist.
    public static func freeHugepages(_ pool: HugepageSize, node: Int) -> Int? {
        let kib = pool == .size2m ? 2048 : 1_048_576
        let path = "/sys/devices/system/node/node\(node)/hugepages/hugepages-\(kib)kB/free_hugepages"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// Where sampled pages of a mapping live, from move_pages(2) in query mode.
public struct PageNodeCensus: Sendable, Equatable {
    /// Sampled pages per node.
    public var pagesPerNode: [Int: Int]
    /// Sampled pages with no page behind them (never touched, or discarded).
    public var notPresent: Int
    /// Sampled pages move_pages reported another error for (errno -> count).
    public var errors: [Int32: Int]
    public var sampled: Int

    /// "node 0: 4096" / "node 0: 2048, node 1: 2048, not present: 12".
    public var summary: String {
        var parts = pagesPerNode.sorted { $0.key < $1.key }.map { "node \($0.key): \($0.value)" }
        if notPresent > 0 { parts.append("not present: \(notPresent)") }
        for (code, count) in errors.sorted(by: { $0.key < $1.key }) { parts.append("\(Errno(rawValue: code)): \(count)") }
        return parts.isEmpty ? "nothing sampled" : parts.joined(separator: ", ")
    }
}

extension HostMemory {
    /// Sets the NUMA memory policy of the whole mapping with mbind(2). It must run before the
    /// first touch: the kernel applies a VMA's policy when it allocates a page (at fault time), so
    /// pages already present keep their node (moving them would need MPOL_MF_MOVE, and would be a
    /// cost inside the measurement). For a shared (memfd) backing the policy is the file's shared
    /// policy, which covers every mapping of it. For hugetlb, huge pages come from the pool's free
    /// pages on the chosen node(s), so the node must have enough of them.
    public func bind(_ policy: NUMAPolicy) throws(BackingUnsupported) {
        let nodes: [Int]
        let mode: Int32
        switch policy {
        case .bind(let node): nodes = [node]; mode = MPOL_BIND
        case .interleave(let list): nodes = list; mode = MPOL_INTERLEAVE
        }
        if let pool = kind.hugetlbPool, nodes.count == 1, NUMAHost.nodes().count > 1 {
            let needed = Int(size / pool.bytes)
            if let free = NUMAHost.freeHugepages(pool, node: nodes[0]), free < needed {
                throw BackingUnsupported("--numa-node \(nodes[0]) with \(kind.rawValue): node \(nodes[0]) has \(free) free \(pool.rawValue) hugepages and this guest needs \(needed) (short by \(needed - free)); grow that node's pool in /sys/devices/system/node/node\(nodes[0])/hugepages")
            }
        }
        let highest = nodes.max() ?? 0
        // The kernel reads maxnode - 1 bits of the mask (a historical off-by-one), so pass one more.
        var mask = [UInt](repeating: 0, count: highest / UInt.bitWidth + 1)
        for node in nodes { mask[node / UInt.bitWidth] |= 1 << UInt(node % UInt.bitWidth) }
        let maxnode = UInt(mask.count * UInt.bitWidth + 1)
        let status = mask.withUnsafeBufferPointer { words in
            mbind(base, UInt(size), mode, words.baseAddress, maxnode, 0)
        }
        guard status == 0 else {
            throw BackingUnsupported("mbind(\(mode == MPOL_BIND ? "MPOL_BIND" : "MPOL_INTERLEAVE"), node(s) \(nodes.map(String.init).joined(separator: ","))) of \(formatBytes(size)) \(kind.rawValue) failed: \(Errno(rawValue: Glibc.errno))")
        }
    }

    /// The memory policy the kernel holds for the start of the mapping (get_mempolicy with
    /// MPOL_F_ADDR): its mode ("default", "preferred", "bind", "interleave", or the number) and
    /// nodes, or nil when the call fails.
    public func memoryPolicy() -> (mode: String, nodes: [Int])? {
        var mode: Int32 = 0
        var mask = [UInt](repeating: 0, count: 1024 / UInt.bitWidth)
        let status = mask.withUnsafeMutableBufferPointer { words in
            get_mempolicy(&mode, words.baseAddress, UInt(words.count * UInt.bitWidth), base, UInt32(MPOL_F_ADDR))
        }
        guard status == 0 else { return nil }
        var nodes: [Int] = []
        for (word, bits) in mask.enumerated() where bits != 0 {
            for bit in 0..<UInt.bitWidth where bits & (1 << UInt(bit)) != 0 { nodes.append(word * UInt.bitWidth + bit) }
        }
        let names: [Int32: String] = [MPOL_DEFAULT: "default", MPOL_PREFERRED: "preferred", MPOL_BIND: "bind", MPOL_INTERLEAVE: "interleave"]
        return (names[mode] ?? "\(mode)", nodes)
    }

    /// Asks the kernel where up to `maxSamples` pages of the mapping live (move_pages(2) with no
    /// target nodes only reports), sampling evenly from start to end, one address per backing page.
    /// It neither moves nor faults in anything.
    public func pageNodes(maxSamples: Int = 4096) -> PageNodeCensus {
        let unit = max(kind.pageSize, 4096)
        let pages = Int(size / unit)
        let count = min(max(1, maxSamples), pages)
        var addresses = [UnsafeMutableRawPointer?](repeating: nil, count: count)
        for index in 0..<count {
            let page = pages == count ? index : index * pages / count
            addresses[index] = base + page * Int(unit)
        }
        var status = [Int32](repeating: 0, count: count)
        let result = addresses.withUnsafeMutableBufferPointer { pointers in
            status.withUnsafeMutableBufferPointer { out in
                move_pages(0, UInt(count), pointers.baseAddress, nil, out.baseAddress, 0)
            }
        }
        var census = PageNodeCensus(pagesPerNode: [:], notPresent: 0, errors: [:], sampled: count)
        guard result >= 0 else {
            census.errors[Glibc.errno, default: 0] = count
            return census
        }
        for value in status {
            if value >= 0 {
                census.pagesPerNode[Int(value), default: 0] += 1
            } else if value == -ENOENT {
                census.notPresent += 1
            } else {
                census.errors[-value, default: 0] += 1
            }
        }
        return census
    }
}
