import Backings
@_exported import Host
import GuestPrograms

/// Bad input: what was wrong, what is allowed, and (where it matters) this host's limit.
/// The CLI prints it on one line and exits with the usage status before any VM is created.
public struct ParameterError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A benchmark scenario: builds its guest from parameters, then measures one repetition at a time.
///
/// Parameters arrive as strings keyed like the command-line flags without dashes
/// (`mem_per_vcpu`), from the CLI and from suite files alike, so both validate the same way.
public protocol Scenario: Sendable {
    /// Name on the command line and in results (`demand-paging`).
    static var name: String { get }
    /// One line for `kvmbench list`.
    static var summary: String { get }
    /// The keys this scenario accepts beyond `GuestConfiguration.parameterKeys`, with their help.
    static var parameterKeys: [String: String] { get }

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
}

extension Scenario {
    public var notices: [String] { [] }
    public var hostBufferBytes: UInt64 { 0 }
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

/// String parameters with typed, validating accessors. Every accessor names the flag and the
/// allowed values in its error, and records the key as used so unknown keys can be reported.
public struct ParameterSet: Sendable {
    public private(set) var values: [String: String]

    public init(_ values: [String: String]) { self.values = values }

    static func flag(_ key: String) -> String { "--" + key.replacingOccurrences(of: "_", with: "-") }

    public func string(_ key: String) -> String? { values[key] }

    public func int(_ key: String, default fallback: Int, range: ClosedRange<Int>? = nil) throws(ParameterError) -> Int {
        guard let text = values[key] else { return fallback }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw ParameterError("\(Self.flag(key)) \(text): not a whole number")
        }
        if let range, !range.contains(value) {
            throw ParameterError("\(Self.flag(key)) \(value) is out of range: allowed \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    public func size(_ key: String, default fallback: UInt64) throws(ParameterError) -> UInt64 {
        guard let text = values[key] else { return fallback }
        guard let value = parseSize(text) else {
            throw ParameterError("\(Self.flag(key)) \(text): not a size of less than 16 EiB (examples: 4096, 64M, 2G)")
        }
        return value
    }

    public func bool(_ key: String, default fallback: Bool) throws(ParameterError) -> Bool {
        guard let text = values[key]?.lowercased() else { return fallback }
        switch text {
        case "true", "yes", "1", "on": return true
        case "false", "no", "0", "off": return false
        default: throw ParameterError("\(Self.flag(key)) \(text): expected true or false")
        }
    }

    public func choice<T: RawRepresentable & CaseIterable>(_ key: String, default fallback: T) throws(ParameterError) -> T where T.RawValue == String {
        guard let text = values[key] else { return fallback }
        guard let value = T(rawValue: text.lowercased()) else {
            throw ParameterError("\(Self.flag(key)) \(text): unknown value; valid: \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    /// Keys not in `known`, for "unknown parameter" errors.
    public func unknownKeys(known: Set<String>) -> [String] { values.keys.filter { !known.contains($0) }.sorted() }
}

extension GuestConfiguration {
    /// The keys every scenario's guest understands, with their help.
    public static let parameterKeys: [String: String] = [
        "vcpus": "number of vCPUs (1 ... KVM_CAP_MAX_VCPUS)",
        "mem_per_vcpu": "guest memory each vCPU touches (e.g. 256M)",
        "backing": "host memory: \(BackingKind.allNames)",
        "guest_page_size": "guest page-table page size: 4k or 2m",
        "slots": "memslots the test memory is split across",
        "access": "sequential or random",
        "write_percent": "percentage of accesses that write (0-100)",
        "seed": "seed of the per-vCPU random generators",
        "shared_region": "all vCPUs access one shared region (true/false)",
        "host_prefault": "populate the host backing before the guest runs (true/false)",
        "guest_ad_bits": "Accessed/Dirty bits in the guest's page tables: preset (as Linux guests have them) or clear (KVM's A/D-update path)",
        "reserve_hugepages": "let kvmbench grow hugetlb pools, restored afterwards (true/false)",
        "pin": "vCPU thread placement: none, auto, or CPUs like 0,1 or 0-3 (one per vCPU, optionally one more for the main thread)",
        "numa_node": "bind the test memory to this NUMA node (mbind MPOL_BIND)",
        "numa_interleave": "interleave the test memory over every NUMA node (mbind MPOL_INTERLEAVE; true/false)",
    ]

    /// Reads the guest keys of `parameters`, validated against `limits`.
    public init(parameters p: ParameterSet, limits: HostLimits, defaults: GuestConfiguration = GuestConfiguration()) throws(ParameterError) {
        self.init()
        vcpus = try p.int("vcpus", default: defaults.vcpus)
        memoryPerVCPU = try p.size("mem_per_vcpu", default: defaults.memoryPerVCPU)
        backing = try p.choice("backing", default: defaults.backing)
        guestPageSize = try p.choice("guest_page_size", default: defaults.guestPageSize)
        slots = try p.int("slots", default: defaults.slots)
        access = try p.choice("access", default: defaults.access)
        writePercent = try p.int("write_percent", default: defaults.writePercent)
        seed = UInt64(try p.int("seed", default: Int(defaults.seed), range: 0...Int.max))
        sharedRegion = try p.bool("shared_region", default: defaults.sharedRegion)
        hostPrefault = try p.bool("host_prefault", default: defaults.hostPrefault)
        guestADBits = try p.choice("guest_ad_bits", default: defaults.guestADBits)
        reserveHugepages = try p.bool("reserve_hugepages", default: defaults.reserveHugepages)
        try readPlacement(p, limits: limits, defaults: defaults)
        if let problem = problem(limits: limits) { throw ParameterError(problem) }
    }
}
