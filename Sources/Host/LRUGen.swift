import Foundation

/// One memcg's multi-gen LRU, per node, as /sys/kernel/debug/lru_gen prints it:
///
///     memcg    ID PATH
///      node   NID
///             SEQ   AGE_MS   NR_ANON   NR_FILE
///
/// one line per generation from the oldest (min_seq) to the youngest (max_seq).
public struct LRUGenerations: Sendable, Equatable {
    public struct Generation: Sendable, Equatable {
        public var seq: UInt64
        public var pages: Int
    }
    public var memcgID: Int
    /// Generations per node id, oldest first.
    public var nodes: [Int: [Generation]]

    public var totalPages: Int { nodes.values.reduce(0) { $0 + $1.reduce(0) { $0 + $1.pages } } }
    /// Each node's youngest generation (max_seq).
    public var maxSeqs: [Int: UInt64] { nodes.compactMapValues { $0.last?.seq } }

    /// Parses the memcg at `path` (as the kernel prints it, e.g. /kvmbench-aging-1234) out of `text`.
    public static func parse(_ text: String, memcgPath path: String) -> LRUGenerations? {
        var found: LRUGenerations?
        var node: Int?
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ")
            guard let first = words.first else { continue }
            if first == "memcg" {
                if found != nil { break }
                if words.count >= 3, String(words[2]) == path, let id = Int(words[1]) { found = LRUGenerations(memcgID: id, nodes: [:]) }
                node = nil
            } else if found != nil, first == "node", words.count >= 2 {
                node = Int(words[1])
            } else if found != nil, let current = node, words.count >= 4, let seq = UInt64(words[0]),
                      let anon = Int(words[2].trimmingCharacters(in: CharacterSet(charactersIn: "x"))),
                      let file = Int(words[3].trimmingCharacters(in: CharacterSet(charactersIn: "x"))) {
                found?.nodes[current, default: []].append(Generation(seq: seq, pages: anon + file))
            }
        }
        return found
    }

    /// What one aging pass found, from the memcg before (`self`) and after it: the pass accounts
    /// every page it finds young (its PTE, or KVM's SPTE through clear_young, had the Accessed bit)
    /// to the generation that was youngest before it, then opens a new one. So after the pass the
    /// young pages are those in that generation, and the idle ones those in older generations.
    public func agingResult(after: LRUGenerations) -> (young: Int, idle: Int) {
        var young = 0, idle = 0
        for (node, generations) in after.nodes {
            guard let youngest = maxSeqs[node] else { continue }
            for generation in generations {
                if generation.seq == youngest { young += generation.pages } else if generation.seq < youngest { idle += generation.pages }
            }
        }
        return (young, idle)
    }
}

/// Drives MGLRU through its debugfs file, as the kernel selftests' lru_gen_util does: reads a
/// memcg's generations and asks for an aging pass ("+ MEMCG_ID NODE_ID MAX_SEQ CAN_SWAP
/// FORCE_SCAN"), which walks the memcg's page tables and, for each PTE, calls
/// ptep_clear_young_notify(): the MMU notifier's clear_young, which KVM serves with kvm_age_gfn.
public struct LRUGen: Sendable {
    /// /sys/kernel/mm on a real host.
    public var mmRoot: String
    public var debugfsFile: String
    public init(mmRoot: String = "/sys/kernel/mm", debugfsFile: String = "/sys/kernel/debug/lru_gen") {
        self.mmRoot = mmRoot
        self.debugfsFile = debugfsFile
    }

    /// LRU_GEN_CORE and LRU_GEN_MM_WALK in /sys/kernel/mm/lru_gen/enabled: aging only walks page
    /// tables (and so only reaches KVM) with both.
    static let requiredFeatures: UInt64 = 0x1 | 0x2

    /// Why aging through MGLRU cannot be driven here, or nil when it can.
    public func unusableReason() -> String? {
        let enabledPath = mmRoot + "/lru_gen/enabled"
        guard let text = try? String(contentsOfFile: enabledPath, encoding: .utf8) else { return "cannot read \(enabledPath)" }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let features = UInt64(trimmed.hasPrefix("0x") ? String(trimmed.dropFirst(2)) : trimmed, radix: 16) ?? 0
        if features & Self.requiredFeatures != Self.requiredFeatures {
            return "MGLRU is present but \(enabledPath) is \(trimmed): aging walks page tables only with features 0x1 (enabled) and 0x2 (mm walk); kvmbench does not change it (`echo 0x3 > \(enabledPath)` as root)"
        }
        guard FileManager.default.isWritableFile(atPath: debugfsFile) else {
            return "MGLRU is enabled but its debugfs file \(debugfsFile) is absent or not writable (debugfs not mounted, or not root)"
        }
        return nil
    }

    /// The memcg's generations now.
    public func read(memcgPath: String) throws(AgingFailure) -> LRUGenerations {
        guard let text = try? String(contentsOfFile: debugfsFile, encoding: .utf8) else {
            throw AgingFailure("cannot read \(debugfsFile)")
        }
        guard let generations = LRUGenerations.parse(text, memcgPath: memcgPath) else {
            throw AgingFailure("the memcg \(memcgPath) is not in \(debugfsFile)")
        }
        return generations
    }

    /// The commands of one aging pass over every node of `generations` (anon pages included, page
    /// tables scanned whatever the bloom filters say), built before the pass is timed.
    public func agingCommands(_ generations: LRUGenerations) -> [Data] {
        generations.maxSeqs.sorted { $0.key < $1.key }.map { node, seq in Data("+ \(generations.memcgID) \(node) \(seq) 1 1\n".utf8) }
    }

    /// Opens the debugfs file for writing aging commands.
    public func openForAging() throws(AgingFailure) -> FileHandle {
        guard let handle = FileHandle(forWritingAtPath: debugfsFile) else { throw AgingFailure("cannot open \(debugfsFile) for writing") }
        return handle
    }
}

/// An aging pass that did not happen as asked.
public struct AgingFailure: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
