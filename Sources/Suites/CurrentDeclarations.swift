import Foundation
import Host
import Results
import Scenarios

/// Brings result documents written by older kvmbench versions up to the current declarations, so
/// that their cases match the cases the current code records. The one place this happens: every
/// document read to be compared or gated goes through it (`DocumentLoader`, `SuiteComparison`,
/// `Gate`, and the pooled history at the command line). Stored documents are never edited.
///
/// For each case of a scenario the catalog knows:
/// - Parameters: every key the scenario's parameter table declares with a fixed default, that the
///   current code records for a case at its defaults, and that the case lacks, is filled with the
///   text the current code records for that default (`defaultsAsRecorded`), or, where the
///   parameter came with a default other than what the code did before
///   (`ParameterIntroductions`), with the value that reproduces the old behaviour. So a case
///   recorded before page-table's `region` existed reads `region=private`, one recorded before
///   `guest_ad_bits` existed reads `guest_ad_bits=clear` (the guest page tables had no A/D bits
///   then), and each matches current cases measured that way and no other. Keys the current code records only away from their default
///   (`populate`, `pin`, `uffd_*`), never records (`reserve_hugepages`) or derives from other
///   values (memslots' `mem_per_vcpu`) are not filled: a current case at its defaults lacks them
///   too.
/// - Parameters the case has that the table no longer declares are kept: some are derived and
///   recorded on purpose (memslots' `slots_requested`/`slots_effective`, the resolved
///   `move_method`), and a parameter that was removed described a case shape the current code
///   cannot produce, so such a case should not match a current one silently.
/// - Metrics: names renamed since are mapped through `MetricRenames` (old name -> current name),
///   unless the case already has a metric of the current name.
///
/// Cases of scenarios the catalog does not know, and the selftest scenario (whose parameters are
/// a binary's path and arguments, with no defaults to fill), are left as they are; so are
/// reference baselines, which record only the parameters a publication states and match by
/// `ReferenceMatching`'s loose rule.
public enum CurrentDeclarations {
    /// `document` with every case brought up to the current declarations.
    public static func upgrade(_ document: ResultDocument) -> ResultDocument {
        var copy = document
        copy.cases = document.cases.map(upgrade)
        return copy
    }

    /// `loaded` brought up to the current declarations, unless it is a reference baseline.
    public static func upgrade(_ loaded: LoadedDocument) -> LoadedDocument {
        guard !loaded.isReference else { return loaded }
        var copy = loaded
        copy.document = upgrade(loaded.document)
        return copy
    }

    /// `item` with missing defaulted parameters filled and renamed metrics under their current names.
    public static func upgrade(_ item: CaseResult) -> CaseResult {
        var copy = item
        if let defaults = defaultsAsRecorded[item.scenario] {
            for (key, value) in defaults where copy.parameters[key] == nil {
                copy.parameters[key] = ParameterIntroductions.before(scenario: item.scenario, key: key) ?? value
            }
        }
        let renames = MetricRenames.of(item.scenario)
        guard !renames.isEmpty else { return copy }
        let names = Set(item.metrics.map(\.name))
        for index in copy.metrics.indices {
            for rename in renames {
                guard let current = rename.currentName(of: copy.metrics[index].name), !names.contains(current) else { continue }
                copy.metrics[index].name = current
                break
            }
        }
        return copy
    }

    /// Per scenario, the parameters a missing key is filled from: the keys its table declares with a
    /// fixed default, as the current code records them for a case built from the table's defaults
    /// alone (so the text is exactly what a current result holds: `preset`, `shared`, page-table's
    /// `write_percent` `selftest`). Scenarios that cannot be built from defaults (selftest needs a
    /// binary) have no entry.
    public static let defaultsAsRecorded: [String: [String: String]] = {
        // Limits that refuse nothing a default asks for; no value recorded at the defaults depends
        // on them for the keys kept here (slot counts are derived keys, not declared ones).
        let limits = HostLimits(maxVCPUs: 1024, memslots: 32764, memAvailable: nil)
        var out: [String: [String: String]] = [:]
        for type in ScenarioCatalog.all where type.name != SelftestScenario.name {
            guard let scenario = try? type.init(parameters: ParameterSet([:]), limits: limits) else { continue }
            let table = type.parameterTable
            out[type.name] = scenario.parameters.filter { key, _ in table[key]?.hasFixedDefault == true }
        }
        return out
    }()
}
