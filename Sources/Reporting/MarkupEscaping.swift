/// Escapes text for HTML and XML, in element content and in quoted attribute values alike.
///
/// This is the only escape function the HTML and JUnit reports use: `&`, `<`, `>`, `"` and `'`
/// become entities, and characters XML 1.0 forbids (most C0 controls, U+FFFE, U+FFFF) become
/// U+FFFD so that the output always parses.
func escapeMarkup(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
        switch scalar {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
        default:
            let isForbidden = scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF
            out.unicodeScalars.append(isForbidden ? "\u{FFFD}" : scalar)
        }
    }
    return out
}
