import Results

/// How to print values of one unit at one magnitude: divide by `divisor`, then append `symbol`.
///
/// Tables pick a scale per value ("123.0 µs", "1.50 s"); chart axes pick one scale for the whole
/// axis so that every tick reads in the same unit.
struct DisplayScale: Equatable, Sendable {
    /// A value in the metric's own unit divided by this is the number to print.
    var divisor: Double
    /// What follows the number, e.g. "µs" or "M pages/s"; empty for plain counts.
    var symbol: String

    /// The scale that makes `magnitude` (a value in `unit`) read naturally, e.g. 0.000123 s -> µs.
    init(unit: MetricUnit, magnitude: Double) {
        self.init(kind: UnitKind(unit), magnitude: magnitude)
    }

    init(kind: UnitKind, magnitude: Double) {
        let size = magnitude.isFinite ? abs(magnitude) : 0
        switch kind {
        case .time(let secondsPerUnit):
            let seconds = size * secondsPerUnit
            let steps: [(Double, String)] = [(1, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns")]
            let fallback = steps.first { $0.0 <= secondsPerUnit } ?? (1e-9, "ns")
            let step = seconds == 0 ? fallback : (steps.first { seconds >= $0.0 } ?? (1e-9, "ns"))
            self.init(divisor: step.0 / secondsPerUnit, symbol: step.1)
        case .byteRate(let bytesPerUnit):
            let bytes = size * bytesPerUnit
            let steps: [(Double, String)] = [(0x1p40, "TiB/s"), (0x1p30, "GiB/s"), (0x1p20, "MiB/s"), (0x1p10, "KiB/s")]
            let step = steps.first { bytes >= $0.0 } ?? (1, "B/s")
            self.init(divisor: step.0 / bytesPerUnit, symbol: step.1)
        case .rate(let unit):
            let steps: [(Double, String)] = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
            if let step = steps.first(where: { size >= $0.0 }) {
                self.init(divisor: step.0, symbol: step.1 + " " + unit)
            } else {
                self.init(divisor: 1, symbol: unit)
            }
        case .count: self.init(divisor: 1, symbol: "")
        case .percent: self.init(divisor: 1, symbol: "%")
        case .ratio: self.init(divisor: 1, symbol: "×")
        case .other(let unit): self.init(divisor: 1, symbol: unit)
        }
    }

    init(divisor: Double, symbol: String) {
        self.divisor = divisor
        self.symbol = symbol
    }
}
