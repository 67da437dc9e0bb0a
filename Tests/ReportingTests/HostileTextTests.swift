import Testing
import Foundation
@testable import Reporting

/// Text from result files (hostnames, parameters, reasons, notes, labels) must never become markup.
@Suite("Hostile strings are escaped")
struct HostileTextTests {
    let raw = Fixtures.hostile

    @Test func escapeFunctionCoversMarkupAndForbiddenCharacters() {
        #expect(escapeMarkup("<a href=\"x\">'&'</a>") == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;")
        #expect(escapeMarkup("bell\u{07}") == "bell\u{FFFD}")
    }

    @Test func html() throws {
        let html = HTMLReport.render(documents: [Fixtures.hostileDocument()], comparison: Fixtures.hostileComparison(),
                                     title: raw)
        #expect(!html.contains("<script"))
        #expect(!html.contains("\"quoted\""))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &quot;quoted&quot; &#39;single&#39; &amp; more"))
        // Well-formed, and the text reads back exactly as written.
        let xml = try parseXML(html)
        #expect(try xml.nodes(forXPath: "//*[local-name()='script']").isEmpty)
        #expect(try xml.nodes(forXPath: "//title").first?.stringValue == raw)
        #expect(try xml.nodes(forXPath: "//span[@class='hostname']").first?.stringValue == raw)
        let reasons = try xml.nodes(forXPath: "//div[@class='reason']").map(\.stringValue)
        #expect(reasons.contains(raw))
    }

    @Test func markdown() {
        for markdown in [MarkdownReport.render(Fixtures.hostileComparison()), MarkdownReport.render(Fixtures.hostileDocument())] {
            #expect(!markdown.contains("<script"))
            #expect(markdown.contains("&lt;script&gt;alert(1)&lt;/script&gt; \"quoted\" 'single' &amp; more \\| pipe"))
        }
    }

    @Test func junit() throws {
        for text in [JUnitReport.render(Fixtures.hostileComparison()), JUnitReport.render(Fixtures.hostileDocument())] {
            #expect(!text.contains("<script"))
            let xml = try parseXML(text)
            let messages = try (xml.elements(named: "skipped") + xml.elements(named: "failure")).compactMap { $0.attribute("message") }
            #expect(messages.contains { $0.contains(raw) })
        }
    }

    @Test func terminal() {
        let text = renderResultText(Fixtures.hostileDocument(), colour: true)
        #expect(text.contains(raw))
        #expect(!text.contains("\u{1B}[2J"))
    }
}
