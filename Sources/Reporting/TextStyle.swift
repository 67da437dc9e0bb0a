/// A terminal text style, rendered as an ANSI SGR sequence only when the caller asks for colour.
public enum TextStyle: Sendable, Equatable {
    case bold, dim, red, green, yellow

    private var code: String {
        switch self {
        case .bold: return "1"
        case .dim: return "2"
        case .red: return "31"
        case .green: return "32"
        case .yellow: return "33"
        }
    }

    /// `text` wrapped in this style's escape sequence and a reset.
    func apply(to text: String) -> String {
        "\u{1B}[" + code + "m" + text + "\u{1B}[0m"
    }
}

extension String {
    /// This text in `style` when `colour` is on; unchanged otherwise.
    func styled(_ style: TextStyle?, colour: Bool) -> String {
        guard colour, let style else { return self }
        return style.apply(to: self)
    }

    /// This text made safe for a terminal: control characters (which could move the cursor or
    /// inject escape sequences from hostile result files) become spaces or U+FFFD.
    var terminalSafe: String {
        var out = String.UnicodeScalarView()
        for scalar in unicodeScalars {
            switch scalar.value {
            case 0x09, 0x0A, 0x0D: out.append(" ")
            case 0x00...0x1F, 0x7F...0x9F: out.append("\u{FFFD}")
            default: out.append(scalar)
            }
        }
        return String(out)
    }
}
