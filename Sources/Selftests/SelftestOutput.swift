import Results
import Statistics

/// One figure a KVM selftest printed, named after the selftest's own words
/// ("Iteration 2 clear dirty log time: 0.000187100s" -> `iteration_2_clear_dirty_log_time`, s).
public struct SelftestFigure: Sendable, Equatable {
    public var name: String
    public var value: Double
    /// Seconds, pages per second or a count.
    public var unit: MetricUnit
    public var better: Polarity
    /// False for figures shown for insight only (iteration counts).
    public var gate: Bool

    public init(_ name: String, _ value: Double, unit: MetricUnit, better: Polarity, gate: Bool = true) {
        self.name = name
        self.value = value
        self.unit = unit
        self.better = better
        self.gate = gate
    }
}

/// What one run of a selftest printed, read into figures.
public struct SelftestReport: Sendable, Equatable {
    /// Every phase the selftest timed, in the order it printed them.
    public var figures: [SelftestFigure] = []
    /// The test's own description of its set-up ("guest mode: PA-bits:ANY, VA-bits:48, 4K pages"),
    /// and tests it did not run with its reason.
    public var notes: [String] = []
    /// The reason of a kselftest SKIP ("1..0 # SKIP - CONFIG_IDLE_PAGE_TRACKING is not enabled").
    public var skipReason: String?
    /// The selftest's version, when it prints one (the 6.12 KVM selftests print none).
    public var version: String?

    public init() {}

    public func figure(named name: String) -> SelftestFigure? { figures.first { $0.name == name } }
}

/// Why a selftest's output could not be read.
public struct SelftestParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The KVM selftests kvmbench reads (tools/testing/selftests/kvm, as of Linux 6.12), by binary name.
public enum SelftestKind: String, CaseIterable, Sendable {
    case demandPaging = "demand_paging_test"
    case dirtyLogPerf = "dirty_log_perf_test"
    case memslotPerf = "memslot_perf_test"
    case kvmPageTable = "kvm_page_table_test"
    case accessTrackingPerf = "access_tracking_perf_test"
    case memslotModificationStress = "memslot_modification_stress_test"

    /// The kind of the binary at `path`, by its file name; nil for a binary kvmbench cannot read.
    public init?(path: String) {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        self.init(rawValue: name)
    }

    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// What a complete run of this selftest always prints: without it the output did not parse.
    var required: (figure: String?, line: String?) {
        switch self {
        case .demandPaging: ("total_guest_execution_time", nil)
        case .dirtyLogPerf: ("iteration_1_dirty_memory_time", nil)
        case .memslotPerf: ("best_slot_setup_time", nil)
        case .kvmPageTable: ("kvm_create_mappings_total_execution_time", nil)
        case .accessTrackingPerf: ("populating_memory", nil)
        case .memslotModificationStress: (nil, "All vCPU threads joined")
        }
    }

    /// True when the test prints no timing of its own, so the whole run's wall time is its figure.
    public var timesNothing: Bool { self == .memslotModificationStress }
}
