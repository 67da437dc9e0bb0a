import Foundation
import Harness
import Results
import Scenarios

/// How every run is repeated and watched, declared once like a scenario's parameters: the
/// options of `run`, `suite`, `gate` and `selftest` read their help, default and allowed range here.
public enum RunParameters {
    public static let repetitions = Parameter<Int>(
        "repetitions", help: "measured repetitions per case, each on a fresh VM (5: the fewest for which a comparison of two runs can reach p < 0.05 with room to spare; 3 against 3 never can; a suite's own count unless given)",
        form: .option(valueName: "n"), sweep: .whole, allowed: "1 or more", default: 5,
        parse: { text, flag throws(ParameterError) in
            guard let count = Int(text.trimmingCharacters(in: .whitespaces)), count >= 1 else {
                throw ParameterError("\(flag) must be at least 1 (got \(text))")
            }
            return count
        },
        format: { "\($0)" })
    public static let warmups = Parameter<Int>(
        "warmups", help: "warm-up repetitions per case, run and discarded (the host's RAM is backed lazily: the first touch costs more; a suite's own count unless given)",
        form: .option(valueName: "n"), sweep: .whole, allowed: "0 or more", default: 1,
        parse: { text, flag throws(ParameterError) in
            guard let count = Int(text.trimmingCharacters(in: .whitespaces)), count >= 0 else {
                throw ParameterError("\(flag) must be 0 or more (got \(text))")
            }
            return count
        },
        format: { "\($0)" })
    public static let caseTimeout = Parameter<Double>(
        "case_timeout", help: "seconds a vCPU may go without progress before the watchdog stops it and fails its case; the run goes on with the next case",
        form: .option(valueName: "seconds"), sweep: .whole, allowed: "0.5...86400 seconds", default: CaseContext.defaultTimeoutSeconds,
        parse: { text, flag throws(ParameterError) in
            guard let seconds = Double(text.trimmingCharacters(in: .whitespaces)), seconds.isFinite, seconds >= 0.5, seconds <= 86_400 else {
                throw ParameterError("\(flag) must be within 0.5...86400 seconds (got \(text))")
            }
            return seconds
        },
        format: { $0 == $0.rounded() && abs($0) < 1e15 ? "\(Int($0))" : "\($0)" })

    public static let order = Parameter<RunOrder.Kind>(
        "order", help: "the order of the repetitions: interleaved (rounds of one repetition of every case, each round in a seeded random order, so slow drift on the host spreads over every case alike) or sequential (each case's repetitions back to back)",
        form: .option(valueName: "interleaved|sequential"), sweep: .whole, allowed: "interleaved or sequential", default: .interleaved,
        parse: { text, flag throws(ParameterError) in
            guard let kind = RunOrder.Kind(rawValue: text.trimmingCharacters(in: .whitespaces)) else {
                throw ParameterError("\(flag) \(text): not an order; use interleaved or sequential")
            }
            return kind
        },
        format: { $0.rawValue })
    public static let orderSeed = Parameter<UInt64>(
        "order_seed", help: "the seed of an interleaved order (recorded in the results as order.seed; the same seed repeats an order; drawn at random unless given)",
        form: .option(valueName: "n"), sweep: .whole, allowed: "0...4294967295", default: nil,
        parse: { text, flag throws(ParameterError) in
            guard let seed = UInt64(text.trimmingCharacters(in: .whitespaces)), seed <= UInt64(UInt32.max) else {
                throw ParameterError("\(flag) must be a whole number within 0...4294967295 (got \(text))")
            }
            return seed
        },
        format: { "\($0)" })

    /// The run options, in the order help shows them.
    public static let table = ParameterTable([repetitions, warmups, caseTimeout, order, orderSeed])
}
