import CKVM

/// What CPUID says about the CPU this process runs on (not a guest's CPUID).
public enum HostCPU {
    /// The hypervisor's 12-byte signature from CPUID leaf 0x40000000 ("KVMKVMKVM", "TCGTCGTCGTCG"
    /// for QEMU's software emulation, "Microsoft Hv"), or nil on bare metal (CPUID.1:ECX bit 31
    /// clear) and on CPUs without CPUID.
    public static var hypervisorVendor: String? {
        #if arch(x86_64)
        guard ckvm_cpuid(1, 0).ecx & (1 << 31) != 0 else { return nil }
        let leaf = ckvm_cpuid(0x4000_0000, 0)
        var bytes: [UInt8] = []
        for register in [leaf.ebx, leaf.ecx, leaf.edx] {
            for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: register >> UInt32(shift))) }
        }
        let signature = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        return signature.isEmpty ? nil : signature
        #else
        return nil
        #endif
    }
}
