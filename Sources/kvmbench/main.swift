import Scenarios
import Results
import Foundation
let s = DemandPagingScenario(guest: GuestConfiguration(vcpus: 2, memoryPerVCPU: 64 << 20))
do {
    let sample = try s.measure()
    for m in sample.metrics { print(m.name, m.value, m.unit) }
    for (k, v) in sample.kvmStats.sorted(by: { $0.key < $1.key }) where v != 0 { print(k, v) }
} catch { print("ERROR", error) }
