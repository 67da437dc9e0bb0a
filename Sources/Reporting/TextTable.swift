/// A plain-text table for terminals: aligned columns, an underlined header, optional colour.
///
/// Cell text is made terminal-safe on the way in, and widths are measured before any colour
/// is applied, so styled and unstyled output line up identically.
public struct TextTable: Sendable {
    public enum Alignment: Sendable { case left, right }

    public struct Column: Sendable {
        public var title: String
        public var alignment: Alignment
        public init(_ title: String, _ alignment: Alignment = .left) {
            self.title = title
            self.alignment = alignment
        }
    }

    public struct Cell: Sendable, ExpressibleByStringLiteral {
        public var text: String
        public var style: TextStyle?
        public init(_ text: String, style: TextStyle? = nil) {
            self.text = text.terminalSafe
            self.style = style
        }
        public init(stringLiteral value: String) { self.init(value) }
    }

    /// A row of cells, or a line across the table (a group's heading, a count) that is left out of
    /// the column widths.
    private enum Entry: Sendable {
        case cells([Cell])
        case line(Cell)
    }

    public let columns: [Column]
    private var entries: [Entry] = []
    /// The rows of cells, without the lines across the table.
    public var rows: [[Cell]] {
        entries.compactMap { entry -> [Cell]? in
            if case .cells(let cells) = entry { return cells }
            return nil
        }
    }
    /// The gap between two columns.
    public var separator = "  "

    public init(columns: [Column]) {
        self.columns = columns
    }

    /// Adds a row; missing trailing cells are left blank, extra cells are dropped.
    public mutating func append(_ cells: [Cell]) {
        let padding = Array(repeating: Cell(""), count: max(0, columns.count - cells.count))
        entries.append(.cells(Array((cells + padding).prefix(columns.count))))
    }

    /// Adds a line of text across the table, between the rows, as it is (not cut to the columns).
    public mutating func appendLine(_ line: Cell) {
        entries.append(.line(line))
    }

    /// The table as lines of text, each ending in a newline, with no trailing spaces.
    public func render(colour: Bool) -> String {
        let widths = columns.indices.map { index in
            rows.reduce(columns[index].title.count) { max($0, $1[index].text.count) }
        }
        var lines: [String] = []
        let header = columns.map { Cell($0.title, style: .bold) }
        lines.append(line(header, widths: widths, colour: colour))
        lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: separator))
        for entry in entries {
            switch entry {
            case .cells(let row): lines.append(line(row, widths: widths, colour: colour))
            case .line(let text):
                var plain = text.text
                while plain.hasSuffix(" ") { plain.removeLast() }
                lines.append(plain.styled(text.style, colour: colour))
            }
        }
        return lines.map { $0 + "\n" }.joined()
    }

    private func line(_ cells: [Cell], widths: [Int], colour: Bool) -> String {
        var parts: [String] = []
        for (index, cell) in cells.enumerated() {
            let gap = String(repeating: " ", count: widths[index] - cell.text.count)
            let isLast = index == cells.count - 1
            let styled = cell.text.styled(cell.style, colour: colour)
            switch columns[index].alignment {
            case .left: parts.append(isLast ? styled : styled + gap)
            case .right: parts.append(gap + styled)
            }
        }
        var text = parts.joined(separator: separator)
        while text.hasSuffix(" ") { text.removeLast() }
        return text
    }
}
