import Foundation
import Suites
import Testing

@Suite("default report paths")
struct ReportPathTests {
    @Test func twoRunsInTheSameSecondGetDifferentFiles() {
        let date = Date(timeIntervalSince1970: 1_735_787_045) // 2025-01-02T03:04:05Z
        let environment = ["KVMBENCH_REPORTS": "/tmp/reports"]
        let first = ProjectPaths.defaultReport(suite: "smoke", date: date, pid: 4242, environment: environment)
        let second = ProjectPaths.defaultReport(suite: "smoke", date: date, pid: 4243, environment: environment)
        #expect(first.path == "/tmp/reports/smoke-20250102T030405Z-4242.json")
        #expect(first != second)
        #expect(ProjectPaths.defaultReport(suite: "smoke", environment: environment).lastPathComponent.hasSuffix("-\(getpid()).json"))
    }
}
