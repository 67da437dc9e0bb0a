import Foundation
import Host
import KVM
import Results
import Suites
import Testing
import TestSupport

/// The MMU kind and the emulated-CPU flag of the host fingerprint: how they are derived, stored,
/// compared, gated and kept out of baselines.
@Suite("host MMU kind and emulated CPU")
struct HostMMUTests {
    @Test func theKVMModuleAndItsParametersNameTheMMU() {
        #expect(MMUKind.classify(kvmModule: "kvm_pvm", parameters: ["kvm.tdp_mmu": "N"]) == .pvmShadow)
        #expect(MMUKind.classify(kvmModule: "kvm_amd", parameters: ["kvm.tdp_mmu": "Y", "kvm_amd.npt": "Y"]) == .tdpMMU)
        #expect(MMUKind.classify(kvmModule: "kvm_amd", parameters: ["kvm.tdp_mmu": "N", "kvm_amd.npt": "1"]) == .legacyTDP)
        #expect(MMUKind.classify(kvmModule: "kvm_amd", parameters: ["kvm.tdp_mmu": "Y", "kvm_amd.npt": "N"]) == .shadow)
        #expect(MMUKind.classify(kvmModule: "kvm_intel", parameters: ["kvm.tdp_mmu": "Y", "kvm_intel.ept": "Y"]) == .tdpMMU)
        // A kernel from before the TDP MMU has no kvm.tdp_mmu: EPT on is the legacy TDP code.
        #expect(MMUKind.classify(kvmModule: "kvm_intel", parameters: ["kvm_intel.ept": "Y"]) == .legacyTDP)
        #expect(MMUKind.classify(kvmModule: "kvm_intel", parameters: ["kvm.tdp_mmu": "Y", "kvm_intel.ept": "N"]) == .shadow)
        // Without the parameter that decides it, or without KVM, the kind is unknown rather than guessed.
        #expect(MMUKind.classify(kvmModule: "kvm_intel", parameters: ["kvm.tdp_mmu": "Y"]) == nil)
        #expect(MMUKind.classify(kvmModule: "none", parameters: [:]) == nil)
    }

    @Test(.enabled(if: HostSession.deviceUsable, "needs /dev/kvm (readable and writable): skipped"))
    func thisHostsFingerprintRecordsItsMMU() throws {
        let host = try HostSession(devicePath: HostSession.devicePath(environment: ProcessInfo.processInfo.environment)).fingerprint
        #expect(host.mmu == MMUKind.classify(kvmModule: host.kvmModule, parameters: host.kvmParameters))
        #expect(host.emulated == host.cpuModel.contains("QEMU TCG") || HostCPU.hypervisorVendor == "TCGTCGTCGTCG")
        if host.kvmModule == "kvm_pvm" { #expect(host.mmu == .pvmShadow) }
        let object = try #require(try JSONSerialization.jsonObject(with: ResultDocument.makeEncoder().encode(host)) as? [String: Any])
        #expect(object["emulated"] as? Bool == host.emulated)
        #expect(object["mmu"] as? String == host.mmu?.rawValue)
    }

    @Test func documentsWithoutTheFieldsStillLoadAndDifferFromNothing() throws {
        var old = Fixtures.host()
        let encoded = try ResultDocument.makeEncoder().encode(old)
        let text = String(decoding: encoded, as: UTF8.self)
        #expect(!text.contains("\"mmu\"") && !text.contains("\"emulated\""))
        let decoded = try JSONDecoder().decode(HostFingerprint.self, from: encoded)
        #expect(decoded.mmu == nil && decoded.emulated == nil)

        var new = old
        new.mmu = .pvmShadow
        new.emulated = false
        let roundTrip = try JSONDecoder().decode(HostFingerprint.self, from: ResultDocument.makeEncoder().encode(new))
        #expect(roundTrip == new)
        #expect(old.mmuRelevantDifferences(from: new).isEmpty)

        old.mmu = .tdpMMU
        old.emulated = true
        let fields = new.mmuRelevantDifferences(from: old).map(\.field)
        #expect(fields == ["mmu", "emulated"])
    }

    @Test func aDifferentMMUIsAnotherHostForTheGate() throws {
        var shadowHost = Fixtures.host(), tdpHost = Fixtures.host()
        shadowHost.mmu = .pvmShadow
        shadowHost.emulated = false
        tdpHost.mmu = .tdpMMU
        tdpHost.emulated = true
        let cases = [Fixtures.timeCase(vcpus: 1)]
        let before = Fixtures.loaded(Fixtures.document(cases, host: shadowHost), label: "base")
        let after = Fixtures.loaded(Fixtures.document(cases, host: tdpHost), label: "new")
        let refusal = #expect(throws: SuiteError.self) { _ = try Gate.evaluate(baseline: before, result: after) }
        #expect(refusal?.message.contains("mmu (pvm-shadow vs tdp-mmu)") == true)
        #expect(throws: SuiteError.self) {
            _ = try Gate.evaluate(baseline: before, result: after, settings: CompareSettings(requireSameHost: true))
        }
        // The same MMU on both sides gates as before.
        let same = Fixtures.loaded(Fixtures.document(cases, host: shadowHost), label: "same")
        #expect(try Gate.evaluate(baseline: before, result: same).status == .pass)
    }

    @Test func aRunOnAnEmulatedCPUMakesNoBaselineWithoutForce() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = BaselineStore(directory: directory)
        var host = Fixtures.host()
        host.mmu = .tdpMMU
        host.emulated = true
        let document = Fixtures.document([Fixtures.timeCase(vcpus: 1)], host: host)
        let error = #expect(throws: SuiteError.self) { try store.save(document, as: "tcg", source: "r.json") }
        #expect(error?.message.contains("emulated CPU") == true && error?.message.contains("--force") == true)
        #expect(!store.exists("tcg"))
        try store.save(document, as: "tcg", source: "r.json", acceptance: BaselineAcceptance(force: true))
        #expect(try store.load("tcg").document.host.emulated == true)
    }
}
