import Foundation

/// A strict reader of KTAP version 1 (Documentation/dev-tools/ktap.rst), for checking what
/// kvmbench prints. Stricter than the spec where kvmbench promises more: every line must be a
/// version, plan, result or diagnostic line (no unknown lines), no line ends in a space, and a
/// parent passes only when none of its subtests failed.
///
/// - The document and every subtest start with `KTAP version 1`, then the plan `1..N`.
/// - A level holds exactly N result lines `ok|not ok <n> <description>[ # <directive> ...]`,
///   numbered 1...N in order; descriptions hold no '#'; the only directive used is SKIP.
/// - A subtest is indented two spaces more than its parent, begins with its version line and
///   ends before the parent's result line (diagnostics of the parent may sit between).
/// - Diagnostic lines are `# text` at the indentation of the test they belong to.
struct KTAPParser {
    struct Test: Equatable {
        var number: Int
        var name: String
        var ok: Bool
        var skip: String?
        var diagnostics: [String]
        var subtests: [Test]
    }

    struct Failure: Error, CustomStringConvertible {
        var line: Int
        var message: String
        var description: String { "KTAP line \(line): \(message)" }
    }

    private let lines: [String]
    private var position = 0
    /// Diagnostics that appear after the last result of the top level.
    private(set) var trailer: [String] = []

    init(_ text: String) throws {
        guard text.hasSuffix("\n") else { throw Failure(line: 0, message: "the document does not end in a newline") }
        lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    /// Parses the whole document into its top-level tests.
    static func parse(_ text: String) throws -> (tests: [Test], trailer: [String]) {
        var parser = try KTAPParser(text)
        let tests = try parser.level(indent: 0)
        while parser.position < parser.lines.count {
            let line = parser.lines[parser.position]
            guard line.hasPrefix("# ") || line == "#" else {
                throw Failure(line: parser.position + 1, message: "unexpected line after the last result: '\(line)'")
            }
            parser.trailer.append(String(line.dropFirst(2)))
            parser.position += 1
        }
        return (tests, parser.trailer)
    }

    private func fail(_ message: String) -> Failure { Failure(line: position + 1, message: message) }

    private func indentation(of line: String) -> Int { line.prefix { $0 == " " }.count }

    private mutating func level(indent: Int) throws -> [Test] {
        let pad = String(repeating: " ", count: indent)
        guard position < lines.count, lines[position] == pad + "KTAP version 1" else {
            throw fail("expected '\(pad)KTAP version 1', got '\(position < lines.count ? lines[position] : "end of input")'")
        }
        position += 1
        guard position < lines.count, lines[position].hasPrefix(pad + "1.."),
              let planned = Int(lines[position].dropFirst(indent + 3)), planned >= 0 else {
            throw fail("expected the plan '\(pad)1..N'")
        }
        position += 1
        var tests: [Test] = []
        var diagnostics: [String] = []
        var subtests: [Test] = []
        while tests.count < planned {
            guard position < lines.count else { throw fail("the plan promised \(planned) tests, found \(tests.count)") }
            let line = lines[position]
            if line.hasSuffix(" ") { throw fail("trailing space") }
            let depth = indentation(of: line)
            let body = String(line.dropFirst(depth))
            if depth == indent + 2, body == "KTAP version 1" {
                guard subtests.isEmpty else { throw fail("two subtest blocks for one test") }
                subtests = try level(indent: indent + 2)
                continue
            }
            guard depth == indent else { throw fail("indentation \(depth), expected \(indent): '\(line)'") }
            if body == "#" || body.hasPrefix("# ") {
                diagnostics.append(String(body.dropFirst(2)))
                position += 1
                continue
            }
            var test = try result(body, expected: tests.count + 1)
            test.diagnostics = diagnostics
            test.subtests = subtests
            if test.ok, test.skip == nil, subtests.contains(where: { !$0.ok && $0.skip == nil }) {
                throw fail("test \(test.number) passes although a subtest failed")
            }
            tests.append(test)
            diagnostics = []
            subtests = []
            position += 1
        }
        if !diagnostics.isEmpty || !subtests.isEmpty {
            throw fail("diagnostics or subtests without a result line")
        }
        return tests
    }

    private func result(_ body: String, expected: Int) throws -> Test {
        let ok: Bool
        var rest: Substring
        if body.hasPrefix("ok ") {
            ok = true
            rest = body.dropFirst(3)
        } else if body.hasPrefix("not ok ") {
            ok = false
            rest = body.dropFirst(7)
        } else {
            throw fail("not a version, plan, result or diagnostic line: '\(body)'")
        }
        let digits = rest.prefix { $0.isNumber }
        guard let number = Int(digits), number == expected else {
            throw fail("test number \(digits), expected \(expected)")
        }
        rest = rest.dropFirst(digits.count)
        var name = ""
        var skip: String?
        if !rest.isEmpty {
            guard rest.hasPrefix(" ") else { throw fail("no space after the test number") }
            rest = rest.dropFirst()
            if let hash = rest.firstIndex(of: "#") {
                name = String(rest[..<hash]).trimmingCharacters(in: .whitespaces)
                let directive = rest[rest.index(after: hash)...].trimmingCharacters(in: .whitespaces)
                guard directive.hasPrefix("SKIP") else { throw fail("unknown directive '\(directive)'") }
                skip = String(directive.dropFirst(4)).trimmingCharacters(in: .whitespaces)
            } else {
                name = String(rest)
            }
        }
        return Test(number: number, name: name, ok: ok, skip: skip, diagnostics: [], subtests: [])
    }
}
