import Harness
import Backings
import Results
@_exported import Host
@_exported import Parameters
import GuestPrograms

/// A benchmark scenario: builds its guest from parameters, then measures one repetition at a time.
///
/// Parameters arrive as strings keyed like the command-line flags without dashes
/// (`mem_per_vcpu`), from the CLI and from suite files alike, and are read through the
/// scenario's `parameterTable`, so both validate the same way.
public protocol Scenario: Sendable {
    /// Name on the command line and in results (`demand-paging`).
    static var name: String { get }
    /// One line for `kvmbench list`.
    static var summary: String { get }
    /// One line heading `kvmbench run <name> --help`.
    static var abstract: String { get }
    /// What `kvmbench run <name> --help` says beyond the parameter table.
    static var discussion: String { get }
    /// False for a scenario with a command of its own instead of `kvmbench run <name>` (selftest).
    static var hasRunCommand: Bool { get }
    /// The table printed after the result tables of this scenario's cases, if any.
    static var reportAppendix: ReportAppendix? { get }
    /// Every parameter this scenario takes, declared once: the CLI flags, suite keys, help,
    /// defaults and validation all come from it.
    static var parameterTable: ParameterTable { get }

    /// Validates `parameters` against the host's limits; throws a `ParameterError` for bad input.
    init(parameters: ParameterSet, limits: HostLimits) throws(ParameterError)

    /// The parameters as recorded in results: canonical, complete, and enough to repeat the case.
    var parameters: [String: String] { get }
    /// Things the user should read before the case runs (e.g. "slots capped at the host maximum").
    var notices: [String] { get }
    /// Bytes of host memory kvmbench itself allocates for one repetition beyond the guest's memory
    /// (handler histograms, dirty bitmaps, ...), counted by the preflight.
    var hostBufferBytes: UInt64 { get }
    /// One repetition on a fresh VM, built from `context`'s host session.
    func measure(in context: CaseContext) throws -> Sample

    /// File descriptors a repetition opens beyond the VM's own (userfaultfds and their threads'
    /// fds), from the case's parameters; the pre-flight counts them against RLIMIT_NOFILE.
    func extraFiles(_ parameters: ParameterSet) -> Int

    /// Adds metrics that only exist over several finished cases of this scenario (the efficiency
    /// of a vCPU sweep), after every case of a run has finished. `cases` holds this scenario's
    /// cases of the run, in order. The pipeline calls it for `run`, `suite`, `gate` and `ab` alike,
    /// so a case gets the same metrics whichever command ran it.
    static func deriveMetrics(over cases: inout [CaseResult])
}

extension Scenario {
    public var notices: [String] { [] }
    public var hostBufferBytes: UInt64 { 0 }
    public static var abstract: String { summary }
    public static var discussion: String { "" }
    public static var hasRunCommand: Bool { true }
    public static var reportAppendix: ReportAppendix? { nil }
    public static func deriveMetrics(over cases: inout [CaseResult]) {}
    public func extraFiles(_ parameters: ParameterSet) -> Int { 0 }

    /// `parameters` bound to this scenario's table: an unknown key is an error naming the flags it takes.
    static func bind(_ parameters: ParameterSet) throws(ParameterError) -> ParameterSet {
        try parameterTable.bind(parameters, scenario: name)
    }
}

/// Every scenario kvmbench has, in the order `kvmbench list` shows them.
public enum ScenarioCatalog {
    public static let all: [any Scenario.Type] = [
        DemandPagingScenario.self,
        MemslotsScenario.self, MemslotStressScenario.self, ZapAllScenario.self,
        DirtyLoggingScenario.self,
        PageTableScenario.self,
        SelftestScenario.self,
        MMUStressScenario.self, AccessTrackingScenario.self,
    ]

    public static func named(_ name: String) -> (any Scenario.Type)? { all.first { $0.name == name } }

    public static var names: String { all.map { $0.name }.joined(separator: ", ") }
}
