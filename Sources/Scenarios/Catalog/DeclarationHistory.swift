import Harness
import GuestPrograms
import Results

/// A metric that a scenario reports under another name than older kvmbench versions recorded it:
/// results written before the rename call it `old`, the current code `current`. Names may be
/// family patterns with one placeholder (`"<test>.best"`), filled the same on both sides.
///
/// Stored documents are never edited: documents read to be compared are brought up to the current
/// names when they are loaded (`CurrentDeclarations` in Suites). A case's metric is renamed only
/// when the case has no metric of the current name, so that an old name the current code reuses
/// with another meaning (memslots' `<test>.best`) keeps that meaning in documents written since,
/// which report both.
public struct MetricRename: Sendable, Equatable {
    public let scenario: String
    public let old: String
    public let current: String
    /// Where the rename happened (commit and what it did), for the reader of this table.
    public let provenance: String

    public init(scenario: String, old: String, current: String, provenance: String) {
        precondition(old.filter { $0 == "<" }.count == current.filter { $0 == "<" }.count
                     && old.filter { $0 == "<" }.count <= 1,
                     "metric rename \(old) -> \(current): both names need the same single placeholder, or none")
        self.scenario = scenario
        self.old = old
        self.current = current
        self.provenance = provenance
    }

    /// The current name of `name`, when `name` is this rename's old name (or fills its pattern).
    public func currentName(of name: String) -> String? {
        guard let part = Self.placeholderText(in: name, pattern: old) else { return nil }
        return Self.fill(current, with: part)
    }

    /// What `name` puts in `pattern`'s placeholder ("" for a pattern without one), or nil when
    /// `name` does not fit it.
    static func placeholderText(in name: String, pattern: String) -> String? {
        guard let open = pattern.firstIndex(of: "<"), let close = pattern[open...].firstIndex(of: ">") else {
            return name == pattern ? "" : nil
        }
        let prefix = pattern[..<open], suffix = pattern[pattern.index(after: close)...]
        guard name.count > prefix.count + suffix.count, name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
        return String(name.dropFirst(prefix.count).dropLast(suffix.count))
    }

    static func fill(_ pattern: String, with part: String) -> String {
        guard let open = pattern.firstIndex(of: "<"), let close = pattern[open...].firstIndex(of: ">") else { return pattern }
        return String(pattern[..<open]) + part + String(pattern[pattern.index(after: close)...])
    }
}

/// Every metric rename since kvmbench's first result documents, oldest first: the one table that
/// maps old names to current ones. Add a line here when a scenario renames a metric it declares
/// (`<Scenario>Metrics`); never rename metrics in stored documents by hand.
public enum MetricRenames {
    public static let all: [MetricRename] = [
        // 892bda2 (2026-12-01, "names that match the selftests"): memslots' `<test>.best` had been
        // the single fastest iteration of a test; it became the best repetition's average, and
        // the fastest iteration was reported as `<test>.fastest_iteration` from then on.
        // (99c3c98 then edited Baselines/nightly.json by hand to the new name; this table
        // replaces such edits.)
        MetricRename(scenario: MemslotsScenario.name, old: "<test>.best", current: "<test>.fastest_iteration",
                     provenance: "892bda2: <test>.best (the fastest iteration) became <test>.fastest_iteration; <test>.best is now the best repetition's average"),
    ]

    /// The renames of `scenario`.
    public static func of(_ scenario: String) -> [MetricRename] { all.filter { $0.scenario == scenario } }
}

/// A parameter added after kvmbench first wrote result documents, whose default does not
/// reproduce what the code measured before it existed. A case recorded before then lacks the
/// key; it is read as `before` (what the old code did), not as the current default, so it matches
/// only current cases that measure the same thing.
public struct ParameterIntroduction: Sendable, Equatable {
    public let scenarios: [String]
    public let key: String
    /// The value that reproduces the behaviour of the code before the parameter existed.
    public let before: String
    public let provenance: String

    public init(scenarios: [String], key: String, before: String, provenance: String) {
        self.scenarios = scenarios
        self.key = key
        self.before = before
        self.provenance = provenance
    }
}

/// Every parameter introduced with a default other than the old behaviour, oldest first. A
/// parameter added with a default that keeps the old behaviour needs no line: a case recorded
/// before it reads as that default. (No parameter has been renamed so far; a rename would be a
/// line of its own kind here.)
public enum ParameterIntroductions {
    public static let all: [ParameterIntroduction] = [
        // da74795 (2026-12-01): guest page tables got Accessed (and Dirty on leaves) preset at every
        // level; before, every entry was built without them, which `--guest-ad-bits clear` keeps.
        // The parameter itself came with 2a46b80 the same day.
        ParameterIntroduction(
            scenarios: [DemandPagingScenario.name, DirtyLoggingScenario.name, PageTableScenario.name, ZapAllScenario.name,
                        MemslotStressScenario.name, MMUStressScenario.name, AccessTrackingScenario.name],
            key: GuestParameters.guestADBits.key, before: GuestADBits.clear.rawValue,
            provenance: "da74795: guest page tables preset A/D bits from then on; before, they were clear"),
        // 2a46b80 (2026-12-01): page-table walks one region shared by every vCPU by default, as
        // kvm_page_table_test does; "--region private for the old shape".
        ParameterIntroduction(
            scenarios: [PageTableScenario.name], key: PageTableScenario.region.key,
            before: PageTableScenario.RegionShape.private.rawValue,
            provenance: "2a46b80: page-table's shared region became the default; before, each vCPU had its own (--region private)"),
    ]

    /// The value a case of `scenario` recorded before `key` existed stands for, when it is not the default.
    public static func before(scenario: String, key: String) -> String? {
        all.first { $0.key == key && $0.scenarios.contains(scenario) }?.before
    }
}
