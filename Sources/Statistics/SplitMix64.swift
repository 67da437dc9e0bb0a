/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014),
/// the generator Java's `SplittableRandom` and `xoshiro`'s seeding use. Small, fast and reproducible:
/// the same seed gives the same sequence on every platform, which keeps bootstrap intervals stable
/// from run to run. Not for cryptography.
public struct SplitMix64: RandomNumberGenerator, Sendable, Equatable {
    /// The generator's whole state; advanced by the golden-ratio increment on every draw.
    public private(set) var state: UInt64

    /// A generator that starts from `seed`; equal seeds give equal sequences.
    public init(seed: UInt64) {
        state = seed
    }

    /// The next 64 random bits (the reference `splitmix64.c` output function).
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform index in `0..<count` (`count` > 0): Lemire's nearly divisionless multiply and
    /// reject (https://arxiv.org/abs/1805.10941), the draws `Int.random(in: 0..<count, using:)`
    /// makes of this generator, without its generic calls (which dominate a debug build's bootstrap).
    @inline(__always)
    public mutating func nextIndex(below count: Int) -> Int {
        let bound = UInt64(count)
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let rejectBelow = (0 &- bound) % bound
            while product.low < rejectBelow { product = next().multipliedFullWidth(by: bound) }
        }
        return Int(product.high)
    }
}
