import Harness
import Foundation
import Host
import Scenarios

/// The host session the tests' guests are built on, opened once (on $KVMBENCH_DEVICE, else
/// /dev/kvm), as a kvmbench run opens it. Only touched by tests enabled by `KVMSystem.isUsable()`.
public enum TestHost {
    public static let session: HostSession = {
        do {
            return try HostSession(devicePath: HostSession.devicePath(environment: ProcessInfo.processInfo.environment))
        } catch {
            fatalError("the test host session: \(error)")
        }
    }()

    /// A fresh repetition context on `session`.
    public static func context(timeoutSeconds: Double = CaseContext.defaultTimeoutSeconds) -> CaseContext {
        CaseContext(host: session, timeoutSeconds: timeoutSeconds)
    }
}
