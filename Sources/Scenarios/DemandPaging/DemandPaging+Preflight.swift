import Harness

/// What a demand-paging case needs from the host beyond its guest, for the pre-flight.
extension DemandPagingScenario {
    /// One userfaultfd per vCPU region (or one for all), an epoll fd per reader, and the readers'
    /// stop eventfd.
    public func extraFiles(_ parameters: ParameterSet) -> Int {
        func read<Value>(_ parameter: Parameter<Value>) -> Value? { (try? parameters.given(parameter)) ?? nil }
        guard let uffd = read(DemandPagingParameters.uffd), uffd != .none else { return 0 }
        let vcpus = read(GuestParameters.vcpus) ?? 1
        let shared = read(GuestParameters.sharedRegion) ?? false
        let readers = read(DemandPagingParameters.uffdReaders) ?? 1
        return (read(DemandPagingParameters.uffdShared) ?? false || shared ? 1 : vcpus) * (1 + readers) + 1
    }
}
