import Foundation

/// How the host's KVM maps guest memory: two-dimensional paging (EPT/NPT) or shadow page tables.
public struct HostPaging: Sendable {
    /// The vendor module serving /dev/kvm (kvm_intel, kvm_amd, kvm_pvm).
    public var module: String
    /// True when KVM shadows the guest's page tables (PVM, or EPT/NPT turned off), so a KVM
    /// mapping is never larger than the guest's own mapping of the same address.
    public var isShadow: Bool

    /// True when KVM's shadow-MMU code maps the guest: shadow paging, or EPT/NPT with the TDP MMU
    /// off (kvm.tdp_mmu=N). Only that code bumps shadow-only stats such as mmu_shadow_zapped;
    /// the TDP MMU never does, so they prove nothing there.
    public var usesShadowMMU: Bool {
        isShadow || (try? String(contentsOfFile: "/sys/module/kvm/parameters/tdp_mmu", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) != "Y"
    }

    public static let current: HostPaging = {
        func read(_ path: String) -> String? {
            (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let exists = { (module: String) in FileManager.default.fileExists(atPath: "/sys/module/\(module)") }
        if exists("kvm_pvm") { return HostPaging(module: "kvm_pvm", isShadow: true) }
        if exists("kvm_intel") { return HostPaging(module: "kvm_intel", isShadow: read("/sys/module/kvm_intel/parameters/ept") == "N") }
        if exists("kvm_amd") {
            let npt = read("/sys/module/kvm_amd/parameters/npt")
            return HostPaging(module: "kvm_amd", isShadow: npt == "0" || npt == "N")
        }
        return HostPaging(module: "kvm", isShadow: false)
    }()
}
