import Foundation
import Results
import Statistics

/// One side of an A/B run in one boot (`kvmbench ab`).
public enum ABSide: String, Sendable, Equatable {
    case a = "A", b = "B"
}

/// The order of an A/B run's blocks: `rounds` rounds of two adjacent blocks, one per side.
///
/// Rounds come in pairs whose orientations mirror each other (AB BA or BA AB, which of the two
/// chosen by a seeded generator), so each side runs first as often as second and a drift that
/// is linear over a pair of rounds cancels from the sum of the pair's differences; an odd last round
/// takes a seeded orientation. The seed is reported so that an order can be repeated.
public struct ABOrder: Sendable, Equatable {
    public let rounds: Int
    public let seed: UInt64
    /// The side of each block, 2 × rounds of them; block i belongs to round i / 2.
    public let blocks: [ABSide]

    public init(rounds: Int, seed: UInt64) {
        self.rounds = rounds
        self.seed = seed
        var generator = SplitMix64(seed: seed)
        var blocks: [ABSide] = []
        var round = 0
        while round < rounds {
            let aFirst = generator.next() & 1 == 0
            let first: [ABSide] = aFirst ? [.a, .b] : [.b, .a]
            blocks += first
            round += 1
            if round < rounds {
                blocks += first.reversed()
                round += 1
            }
        }
        self.blocks = blocks
    }

    /// "AB BA | BA AB": rounds separated by spaces, pairs of rounds by bars.
    public var pattern: String {
        stride(from: 0, to: blocks.count, by: 2).map { start in
            let round = blocks[start..<min(start + 2, blocks.count)].map(\.rawValue).joined()
            return (start > 0 && start % 4 == 0 ? "| " : "") + round
        }.joined(separator: " ")
    }
}

/// The documents of an A/B run's blocks turned into one document per side whose samples are the
/// side's per-round medians, in round order: what `PairedRoundsDecision` pairs (A's samples
/// before, B's after).
public enum RoundDocuments {
    /// `documents` holds one document per block of `side`, in round order. Every metric of a case
    /// gets one sample per round: the median of that round's repetitions. A case that failed or
    /// was unsupported in any round takes that status; a case or metric missing from a round is
    /// left out of the paired figures (its rounds would not pair).
    public static func combine(_ documents: [ResultDocument], maxCV: Double) -> ResultDocument? {
        guard var out = documents.first else { return nil }
        for index in out.cases.indices {
            let key = out.cases[index].key
            let rounds = documents.map { document in document.cases.first { $0.key == key } }
            if let bad = rounds.compactMap({ $0 }).first(where: { $0.status != .ok }) {
                out.cases[index].status = bad.status
                out.cases[index].reason = bad.reason
            }
            var metrics: [Metric] = []
            for metric in out.cases[index].metrics {
                let medians = rounds.map { item in item?.metrics.first { $0.name == metric.name }?.median }
                guard medians.allSatisfy({ $0 != nil }) else { continue }
                metrics.append(Metric(name: metric.name, unit: metric.unit, better: metric.better,
                                      samples: medians.compactMap { $0 }, gate: metric.gate))
            }
            out.cases[index].metrics = metrics
            for document in documents.dropFirst() {
                guard let item = document.cases.first(where: { $0.key == key }) else { continue }
                for note in item.notes where !out.cases[index].notes.contains(note) { out.cases[index].notes.append(note) }
            }
            out.cases[index].summarise(maxCV: maxCV)
        }
        out.finishedAt = documents.last?.finishedAt ?? out.finishedAt
        return out
    }
}
