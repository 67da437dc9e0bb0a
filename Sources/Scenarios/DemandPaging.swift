import Backings
import Foundation
import GuestPrograms
import KVM
import Results

/// Demand paging (the kernel selftests' demand_paging_test): every vCPU touches its memory for the
/// first time, so each 4 KiB page costs one KVM page fault, then touches it again with the
/// mappings in place. The first pass measures KVM's fault path; the second, the guest alone.
public struct DemandPagingScenario: Scenario {
    public static let name = "demand-paging"
    public static let summary = "first touch of guest memory by N vCPUs: KVM page-fault throughput and scaling"
    public static let parameterKeys: [String: String] = [:]

    public var guest: GuestConfiguration

    public init(guest: GuestConfiguration) { self.guest = guest }

    public init(parameters: ParameterSet, limits: HostLimits) throws(ParameterError) {
        guest = try GuestConfiguration(parameters: parameters, limits: limits,
                                       defaults: GuestConfiguration(vcpus: 1, memoryPerVCPU: 64 << 20))
    }

    public var parameters: [String: String] { guest.recorded }

    /// One repetition on a fresh VM.
    public func measure() throws -> Sample {
        let vm = try GuestVM(configuration: guest, maxPasses: 2)
        let pagesPerVCPU = Double(guest.pagesPerVCPU)
        let vcpus = guest.vcpus

        let before = vm.readStats()
        let firstNanos = try vm.runPasses(1)
        let afterFirst = vm.readStats()
        let firstPerVCPU = (0..<vcpus).map { Double(vm.passNanos(vcpu: $0)) / 1e9 }

        vm.setToken(2)
        let secondNanos = try vm.runPasses(1)
        let afterSecond = vm.readStats()
        let secondPerVCPU = (0..<vcpus).map { Double(vm.passNanos(vcpu: $0)) / 1e9 }

        var sample = Sample()
        let first = Double(firstNanos) / 1e9
        let totalPages = pagesPerVCPU * Double(vcpus)
        let sortedFirst = firstPerVCPU.sorted()
        sample.add("first_touch_time", first, unit: "s", better: .lower)
        sample.add("vcpu_time_min", sortedFirst.first ?? 0, unit: "s", better: .lower, gate: false)
        sample.add("vcpu_time_median", sortedFirst[sortedFirst.count / 2], unit: "s", better: .lower, gate: false)
        sample.add("vcpu_time_max", sortedFirst.last ?? 0, unit: "s", better: .lower)
        sample.add("demand_paging_rate", totalPages / first, unit: "pages/s", better: .higher)
        sample.add("rate_per_vcpu", pagesPerVCPU / (firstPerVCPU.reduce(0, +) / Double(vcpus)), unit: "pages/s", better: .higher)
        let second = Double(secondNanos) / 1e9
        sample.add("second_pass_time", second, unit: "s", better: .lower)
        let secondSlowest = secondPerVCPU.max() ?? second
        sample.add("second_pass_per_page", secondSlowest / pagesPerVCPU * 1e9, unit: "ns", better: .lower, gate: false)

        sample.kvmStats = vm.statsDeltas(from: before, to: afterFirst)
        sample.phaseStats = [
            "first_touch": sample.kvmStats,
            "second_pass": vm.statsDeltas(from: afterFirst, to: afterSecond),
        ]
        sample.perVCPU = (0..<vcpus).map { index in
            [
                "first_touch_time": firstPerVCPU[index],
                "pages": pagesPerVCPU,
                "rate": pagesPerVCPU / firstPerVCPU[index],
                "second_pass_time": secondPerVCPU[index],
            ]
        }
        if vcpus > ProcessInfo.processInfo.activeProcessorCount {
            sample.notes.append("\(vcpus) vCPUs on \(ProcessInfo.processInfo.activeProcessorCount) host CPUs: vCPUs time-share, expect up to 2x variation")
        }
        return sample
    }
}
