import Foundation
import GuestPrograms
import Testing

/// scripts/reference/demand-paging.c is the plain C program kvmbench's first-touch time is
/// compared with; it must run exactly kvmbench's guest loop.
@Suite("C reference programs")
struct ReferenceProgramTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The bytes between the source's workload-code markers.
    static func embeddedCode(_ path: String) throws -> [UInt8] {
        let text = try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
        guard let begin = text.range(of: "/* workload-code-begin */"), let end = text.range(of: "/* workload-code-end */") else { return [] }
        let body = text[begin.upperBound..<end.lowerBound]
        guard let open = body.firstIndex(of: "{"), let close = body.lastIndex(of: "}") else { return [] }
        return body[body.index(after: open)..<close].split(separator: ",").compactMap {
            let token = $0.trimmingCharacters(in: .whitespacesAndNewlines)
            return token.hasPrefix("0x") ? UInt8(token.dropFirst(2), radix: 16) : nil
        }
    }

    static func cArray(_ code: [UInt8]) -> String {
        stride(from: 0, to: code.count, by: 16).map { start in
            "    " + code[start..<min(start + 16, code.count)].map { String(format: "0x%02x,", $0) }.joined(separator: " ")
        }.joined(separator: "\n")
    }

    @Test func theDemandPagingReferenceRunsKvmbenchsWorkload() throws {
        let embedded = try Self.embeddedCode("scripts/reference/demand-paging.c")
        #expect(embedded == WorkloadProgram.code, "replace the array in scripts/reference/demand-paging.c with:\n\(Self.cArray(WorkloadProgram.code))")
    }
}
