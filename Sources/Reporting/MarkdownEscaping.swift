/// Escapes text from a result for GitHub-flavoured Markdown, inside table cells and list items.
///
/// Markdown punctuation gets a backslash, `<`, `>` and `&` become entities (GitHub renders raw
/// HTML), and line breaks become spaces (they would end a table row).
func escapeMarkdown(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\\", "`", "*", "_", "[", "]", "|", "~", "#":
            out += "\\" + String(scalar)
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "&": out += "&amp;"
        case "\n", "\r", "\t": out += " "
        default:
            out.unicodeScalars.append(scalar.value < 0x20 || scalar.value == 0x7F ? "\u{FFFD}" : scalar)
        }
    }
    return out
}
