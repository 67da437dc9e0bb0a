import Foundation
import Results
import Scenarios

/// The loose matching rule for reference baselines.
///
/// Published figures come from other hardware and another harness, so their cases cannot carry
/// this host's full parameter set (vCPUs, memory, backing as kvmbench records them). A measured case
/// matches a reference case when both are of the same scenario and they agree on the parameters the
/// reference names for that scenario in `ReferenceInfo.match` (for `memslots`: `slots` only; for
/// `page-table`: `backing`; a scenario with no entry matches on the scenario alone). Values agree
/// when equal as text (ignoring case) or as sizes/numbers ("2M" = "2097152"). For `slots`, the
/// measured case's `slots`, `slots_requested` and `slots_effective` are all tried, and the
/// reference value `max` (the published "32k slots", the maximum of its KVM) matches a measured case
/// that asked for `max`, or whose effective count is this host's maximum (KVM_CAP_NR_MEMSLOTS - 1),
/// or that was capped (requested above effective).
///
/// Matching re-keys a copy of each matched reference case to the measured case's parameters, so that
/// `DocumentComparison.compare` pairs them; a reference case that several measured cases match is
/// compared with each of them. Unmatched reference cases keep their own parameters and are listed as
/// present on one side only.
public enum ReferenceMatching {
    public static func align(reference: ResultDocument, info: ReferenceInfo, to measured: ResultDocument) -> ResultDocument {
        var aligned = reference
        aligned.cases = []
        var used = Set<Int>()
        for measuredCase in measured.cases {
            guard let index = reference.cases.firstIndex(where: {
                matches(reference: $0, measured: measuredCase, keys: info.match[$0.scenario] ?? [], host: measured.host)
            }) else { continue }
            used.insert(index)
            var copy = reference.cases[index]
            copy.parameters = measuredCase.parameters
            aligned.cases.append(copy)
        }
        for (index, item) in reference.cases.enumerated() where !used.contains(index) { aligned.cases.append(item) }
        return aligned
    }

    public static func matches(reference: CaseResult, measured: CaseResult, keys: [String], host: HostFingerprint) -> Bool {
        guard reference.scenario == measured.scenario else { return false }
        for key in keys {
            guard let wanted = reference.parameters[key] else { continue }
            if !agrees(key: key, wanted: wanted, measured: measured, host: host) { return false }
        }
        return true
    }

    static func agrees(key: String, wanted: String, measured: CaseResult, host: HostFingerprint) -> Bool {
        var candidates = [measured.parameters[key]].compactMap { $0 }
        if key == "slots" {
            candidates += ["slots_requested", "slots_effective"].compactMap { measured.parameters[$0] }
            if wanted.lowercased() == "max" {
                if candidates.contains(where: { $0.lowercased() == "max" }) { return true }
                let effective = measured.parameters["slots_effective"].flatMap { Int($0) }
                let requested = (measured.parameters["slots_requested"] ?? measured.parameters["slots"]).flatMap { Int($0) }
                if let effective, let requested, requested > effective { return true }
                if let effective, let total = host.capabilities["KVM_CAP_NR_MEMSLOTS"], total > 0,
                   effective >= total - HostLimits.reservedSlots { return true }
                return false
            }
        }
        return candidates.contains { same($0, wanted) }
    }

    static func same(_ a: String, _ b: String) -> Bool {
        if a.caseInsensitiveCompare(b) == .orderedSame { return true }
        if let x = parseSize(a), let y = parseSize(b) { return x == y }
        return false
    }
}
