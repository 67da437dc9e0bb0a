import Results
import Statistics

/// One repetition of a plan's schedule: which case, whether it is a warm-up, and which round.
public struct ScheduledRepetition: Sendable, Equatable {
    /// The case's index in the plan.
    public var caseIndex: Int
    public var warmup: Bool
    /// 1-based: the warm-up's number among the case's warm-ups, or the repetition's among its repetitions.
    public var number: Int
    /// 1-based round; in a sequential order every repetition of case i is in round i + 1.
    public var round: Int
}

/// The order of every warm-up and repetition of a plan (`RunOrder`).
public struct RunSchedule: Sendable, Equatable {
    public let order: RunOrder
    public let repetitions: [ScheduledRepetition]
    /// Rounds in the schedule: the most repetitions of any case when interleaved, the cases when sequential.
    public let rounds: Int
    /// Each case's last position in `repetitions` (nil for a case with nothing scheduled).
    private let lastPositions: [Int: Int]

    /// `settings`: each case's warm-ups and repetitions, in plan order.
    public init(settings: [RunSettings], order: RunOrder) {
        self.order = order
        var out: [ScheduledRepetition] = []
        switch order.kind {
        case .sequential:
            for (index, setting) in settings.enumerated() {
                out += (0..<setting.warmups).map { ScheduledRepetition(caseIndex: index, warmup: true, number: $0 + 1, round: index + 1) }
                out += (0..<setting.repetitions).map { ScheduledRepetition(caseIndex: index, warmup: false, number: $0 + 1, round: index + 1) }
            }
            rounds = settings.count
        case .interleaved:
            var generator = SplitMix64(seed: order.seed ?? 0)
            let most = settings.map(\.repetitions).max() ?? 0
            for round in 1...max(1, most) {
                var cases = settings.indices.filter { settings[$0].repetitions >= round }
                Self.shuffle(&cases, using: &generator)
                for index in cases {
                    if round == 1 {
                        out += (0..<settings[index].warmups).map { ScheduledRepetition(caseIndex: index, warmup: true, number: $0 + 1, round: 1) }
                    }
                    out.append(ScheduledRepetition(caseIndex: index, warmup: false, number: round, round: round))
                }
            }
            rounds = most
        }
        repetitions = out
        var last: [Int: Int] = [:]
        for (position, item) in out.enumerated() { last[item.caseIndex] = position }
        lastPositions = last
    }

    /// Fisher-Yates with the plan's own generator (the standard library's shuffle takes any
    /// generator, but its algorithm is not promised to stay the same, and a seed must).
    static func shuffle(_ items: inout [Int], using generator: inout SplitMix64) {
        guard items.count > 1 else { return }
        for i in stride(from: items.count - 1, to: 0, by: -1) {
            let j = generator.nextIndex(below: i + 1)
            items.swapAt(i, j)
        }
    }

    /// Whether position `index` is its case's last scheduled repetition.
    public func isLast(_ index: Int) -> Bool {
        lastPositions[repetitions[index].caseIndex] == index
    }
}

extension ScheduledRepetition {
    /// "warm-up 1/1" or "repetition 3/8".
    public func progressText(of settings: RunSettings) -> String {
        warmup ? "warm-up \(number)/\(settings.warmups)" : "repetition \(number)/\(settings.repetitions)"
    }
}
