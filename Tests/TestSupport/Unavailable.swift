import Foundation

/// A test's traits, its comments included, are built whenever the test binary lists its tests:
/// on every run, for every test, whatever `--filter` selects. A comment that interpolates a probe
/// (run python3, create a VM or a cgroup) would run that probe in every run of the binary; in
/// the TDP lane's emulated machine a Foundation `Process` started there never returned and the
/// whole test step ran into its timeout before the first test. So a trait's comment says what the
/// test needs in fixed words, and the probe runs in its condition, which swift-testing evaluates
/// only for the tests it is about to run; this prints the probe's own reason beside the skip.
public enum Unavailable {
    /// True when `reason` (evaluated now) is nil; otherwise prints why `what` is skipped.
    public static func none(_ reason: @autoclosure () -> String?, for what: String) -> Bool {
        guard let reason = reason() else { return true }
        FileHandle.standardError.write(Data("skipped \(what): \(reason)\n".utf8))
        return false
    }
}
