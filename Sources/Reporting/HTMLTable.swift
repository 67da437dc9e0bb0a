/// An HTML table built row by row. Numeric cells are right-aligned with tabular figures; a row may
/// carry a class (the verdict colour of a comparison row).
struct HTMLTable {
    struct Column {
        var title: String
        var numeric = false
    }

    struct Cell {
        var content: Markup
        var numeric = false
        var className: String?
        var rowSpan = 1

        /// A cell with escaped text.
        init(_ text: String, numeric: Bool = false, className: String? = nil) {
            self.init(markup: .text(text), numeric: numeric, className: className)
        }

        init(markup: Markup, numeric: Bool = false, className: String? = nil, rowSpan: Int = 1) {
            content = markup
            self.numeric = numeric
            self.className = className
            self.rowSpan = rowSpan
        }
    }

    var columns: [Column]
    var className: String?
    private var rows: [(className: String?, cells: [Cell])] = []

    init(_ columns: [Column], className: String? = nil) {
        self.columns = columns
        self.className = className
    }

    /// Numeric columns are named with a trailing "#": `HTMLTable(["Metric", "Median#"])`.
    init(titles: [String], className: String? = nil) {
        self.init(titles.map { $0.hasSuffix("#") ? Column(title: String($0.dropLast()), numeric: true) : Column(title: $0) },
                  className: className)
    }

    var isEmpty: Bool { rows.isEmpty }

    mutating func append(_ cells: [Cell], className: String? = nil) {
        rows.append((className, cells))
    }

    var markup: Markup {
        Markup.element("div", ["class": "table-wrap"]) {
            Markup.element("table", ["class": className]) {
                Markup.element("thead") {
                    Markup.element("tr") {
                        for column in columns {
                            Markup.element("th", ["class": column.numeric ? "num" : nil]) { column.title }
                        }
                    }
                }
                Markup.element("tbody") {
                    for row in rows {
                        Markup.element("tr", ["class": row.className]) {
                            for cell in row.cells { cellMarkup(cell) }
                        }
                    }
                }
            }
        }
    }

    private func cellMarkup(_ cell: Cell) -> Markup {
        let classes = [cell.numeric ? "num" : nil, cell.className].compactMap { $0 }.joined(separator: " ")
        return Markup.element("td", [
            "class": classes.isEmpty ? nil : classes,
            "rowspan": cell.rowSpan > 1 ? String(cell.rowSpan) : nil,
        ]) { cell.content }
    }
}

/// Small pieces of page markup the report sections share.
enum HTMLPieces {
    /// A case's parameters as chips: `vcpus=4` `backing=anonymous`.
    static func parameters(_ parameters: [String: String]) -> Markup {
        let pairs = ParameterDisplay.ordered(parameters)
        guard !pairs.isEmpty else { return Markup.element("span", ["class": "muted"]) { "defaults" } }
        return .joined(pairs.map { pair in Markup.element("code", ["class": "param"]) { "\(pair.key)=\(pair.value)" } })
    }

    /// A coloured pill: a verdict, a status, or the reference marker.
    static func badge(_ text: String, className: String) -> Markup {
        Markup.element("span", ["class": "badge " + className]) { text }
    }

    /// A highlighted message above the content: `kind` is "warn", "info" or "bad".
    static func banner(_ kind: String, title: String, @MarkupBuilder detail: () -> Markup) -> Markup {
        Markup.element("div", ["class": "banner " + kind, "role": "note"]) {
            Markup.element("strong") { title }
            " "
            detail()
        }
    }

    /// The reference marker shown wherever a reference baseline appears.
    static let referenceText = "reference: published figures, other hardware"
}
