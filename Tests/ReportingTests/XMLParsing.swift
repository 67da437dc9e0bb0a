import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Parses `text` as XML (JUnit files, and the HTML report, which is written as well-formed XHTML-style markup).
func parseXML(_ text: String) throws -> XMLDocument {
    try XMLDocument(data: Data(text.utf8), options: [])
}

extension XMLNode {
    /// Nodes matching an XPath that ignores namespaces: `//*[local-name()='svg']`.
    func elements(named name: String) throws -> [XMLElement] {
        try nodes(forXPath: "//*[local-name()='\(name)']").compactMap { $0 as? XMLElement }
    }

    func attribute(_ name: String) -> String? {
        (self as? XMLElement)?.attributes?.first { $0.name == name }?.stringValue
    }
}
