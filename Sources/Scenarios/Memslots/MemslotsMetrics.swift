import Harness
import Results

/// The metrics `memslots` reports, declared once; `<test>` is a `MemslotTest` ("map", "move-active").
public struct MemslotsMetrics: MetricDeclarations {
    /// The whole test area's slot setup, the fastest of the tests that used it.
    public let slotSetupTime = MetricDefinition.seconds("slot_setup_time")
    /// memslot_perf_test's figure: the average time per iteration over --duration.
    public let average = MetricFamily.seconds("<test>.average")
    /// The best repetition's `average`, derived when the case is recorded (`Sample.bestOfRepetitions`).
    public let best = MetricFamily.seconds("<test>.best", gated: false)
    public let fastestIteration = MetricFamily.seconds("<test>.fastest_iteration", gated: false)
    public let iterations = MetricFamily.count("<test>.iterations", better: .higher)
    /// The slot setup of the test's own VM.
    public let testSlotSetupTime = MetricFamily.seconds("<test>.slot_setup_time", gated: false)
    /// MMIO exits while the moves were timed: how often a vCPU happened to write the hole then.
    public let mmioExits = MetricFamily.count("<test>.mmio_exits")
    /// move-active's check after the timed moves: the exits while the slot was held away for a whole
    /// lap of every vCPU (at least half the area's pages per vCPU, or the case fails).
    public let heldAwayMMIOExits = MetricFamily.count("<test>.held_away_mmio_exits")
    /// The move tests: the guest synchronises through memory, so besides MMIO into the hole only
    /// the final sync exit per vCPU; each iteration is 2 ioctls in place, 4 as delete + create.
    public let vcpuExits = MetricFamily.count("<test>.vcpu_exits")
    public let ioctlsPerIteration = MetricFamily.count("<test>.ioctls_per_iteration")
}

extension MemslotsScenario: DeclaresMetrics {
    public static let metrics = MemslotsMetrics()
}
