/// A fragment of HTML, SVG or XML that is safe to emit as is.
///
/// Text only becomes markup escaped (`Markup.text`, or any `String` inside a `@MarkupBuilder`
/// block); tag names and unescaped markup can only come from string literals (`StaticString`), so
/// nothing read from a result document can reach the output unescaped.
struct Markup: Sendable {
    /// The markup source.
    private(set) var source: String

    private init(source: String) { self.source = source }

    static let empty = Markup(source: "")

    /// `text`, escaped.
    static func text(_ text: String) -> Markup { Markup(source: escapeMarkup(text)) }

    /// Markup written in this module's source code (a doctype, a style sheet).
    static func trusted(_ literal: StaticString) -> Markup { Markup(source: literal.description) }

    /// `<tag attributes>content</tag>`. Attributes whose value is nil are left out.
    static func element(_ tag: StaticString, _ attributes: KeyValuePairs<String, String?> = [:],
                        @MarkupBuilder _ content: () -> Markup = { .empty }) -> Markup {
        Markup(source: "<\(tag)\(render(attributes))>\(content().source)</\(tag)>")
    }

    /// `<tag attributes/>`: HTML void elements, SVG shapes, empty XML elements.
    static func leaf(_ tag: StaticString, _ attributes: KeyValuePairs<String, String?> = [:]) -> Markup {
        Markup(source: "<\(tag)\(render(attributes))/>")
    }

    /// The fragments one after another.
    static func joined<Parts: Sequence>(_ parts: Parts) -> Markup where Parts.Element == Markup {
        Markup(source: parts.map(\.source).joined())
    }

    private static func render(_ attributes: KeyValuePairs<String, String?>) -> String {
        attributes.compactMap { name, value in value.map { " \(name)=\"\(escapeMarkup($0))\"" } }.joined()
    }
}

/// Builds `Markup` from statements: markup as is, strings escaped, `if`/`for` allowed.
@resultBuilder
enum MarkupBuilder {
    static func buildExpression(_ markup: Markup) -> Markup { markup }
    static func buildExpression(_ text: String) -> Markup { .text(text) }
    static func buildExpression(_ parts: [Markup]) -> Markup { .joined(parts) }
    static func buildBlock(_ parts: Markup...) -> Markup { .joined(parts) }
    static func buildOptional(_ part: Markup?) -> Markup { part ?? .empty }
    static func buildEither(first part: Markup) -> Markup { part }
    static func buildEither(second part: Markup) -> Markup { part }
    static func buildArray(_ parts: [Markup]) -> Markup { .joined(parts) }
}
