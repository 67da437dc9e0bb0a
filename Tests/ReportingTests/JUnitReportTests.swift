import Testing
import Foundation
@testable import Reporting

@Suite("JUnit XML")
struct JUnitReportTests {
    @Test func comparisonHasOneTestCasePerGatedMetricAndRegressionsFail() throws {
        let xml = try parseXML(JUnitReport.render(Fixtures.comparison()))
        let suite = try #require(try xml.elements(named: "testsuite").first)
        #expect(suite.parent?.name == "testsuites")
        // 7 gated metrics + 2 uncompared cases; the ungated regression is not a test case.
        #expect(suite.attribute("tests") == "9")
        #expect(suite.attribute("failures") == "2")
        #expect(suite.attribute("errors") == "1")
        // Skipped: the unsupported case and the noisy and not significant gated metrics (inconclusive, never passed).
        #expect(suite.attribute("skipped") == "3")

        let cases = try xml.elements(named: "testcase")
        #expect(cases.count == 9)
        let failures = try xml.elements(named: "failure")
        #expect(failures.count == 2)
        for failure in failures {
            #expect(failure.parent?.name == "testcase")
            let message = try #require(failure.attribute("message"))
            #expect(message.contains("before ") && message.contains("after ") && message.contains("change ") && message.contains("p 0.008"))
        }
        let regression = try #require(failures.first?.parent)
        #expect(regression.attribute("classname") == "demand-paging")
        #expect(regression.attribute("name") == "demand-paging[backing=anonymous,mem_per_vcpu=512M,vcpus=4] first_touch_time")

        let skips = try xml.elements(named: "skipped")
        #expect(skips.contains { $0.attribute("message")?.hasPrefix("inconclusive: phase.adjust_mappings noisy") == true })
        let skipped = try #require(skips.first { $0.attribute("message") == "no 1G hugepages in the pool" })
        #expect(skipped.parent?.attribute("classname") == "demand-paging")
        let error = try #require(try xml.elements(named: "error").first)
        #expect(error.parent?.attribute("name") == "zap-all[vcpus=2]")
    }

    @Test func documentFormMapsStatuses() throws {
        let document = Fixtures.documentA()
        let xml = try parseXML(JUnitReport.render(document))
        let suite = try #require(try xml.elements(named: "testsuite").first)
        #expect(suite.attribute("tests") == String(document.cases.count))
        #expect(suite.attribute("failures") == "1")
        #expect(suite.attribute("skipped") == "1")
        let failure = try #require(try xml.elements(named: "failure").first)
        #expect(failure.parent?.attribute("classname") == "zap-all")
        #expect(failure.attribute("message")?.contains("KVM_EXIT_SHUTDOWN") == true)
        let skipped = try #require(try xml.elements(named: "skipped").first)
        #expect(skipped.attribute("message")?.hasPrefix("no 1G hugepages") == true)
    }
}
