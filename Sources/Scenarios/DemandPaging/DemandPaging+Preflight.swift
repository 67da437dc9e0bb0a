import Harness

/// What a demand-paging case needs from the host beyond its guest, for the pre-flight.
extension DemandPagingScenario {
    /// One userfaultfd per vCPU region (or one for all), an epoll fd per reader, and the readers'
    /// stop eventfd.
    public func extraFiles(_ parameters: ParameterSet) -> Int {
        guard let uffd = parameters.validIfGiven(DemandPagingParameters.uffd), uffd != .none else { return 0 }
        let vcpus = parameters.validIfGiven(GuestParameters.vcpus) ?? 1
        let shared = parameters.validIfGiven(GuestParameters.sharedRegion) ?? false
        let readers = parameters.validIfGiven(DemandPagingParameters.uffdReaders) ?? 1
        return (parameters.validIfGiven(DemandPagingParameters.uffdShared) ?? false || shared ? 1 : vcpus) * (1 + readers) + 1
    }
}
