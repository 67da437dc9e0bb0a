import Foundation
import Statistics

extension SplitMix64 {
    /// A standard normal draw (Box-Muller on two 53-bit uniforms), for synthetic series.
    mutating func gaussian() -> Double {
        let u1 = (Double(next() >> 11) + 0.5) / 9_007_199_254_740_992
        let u2 = Double(next() >> 11) / 9_007_199_254_740_992
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}
