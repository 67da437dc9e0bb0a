import Foundation

extension ResultDocument {
    /// The encoder every kvmbench JSON file is written with: sorted keys, ISO-8601 dates.
    public static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // ISO 8601 with milliseconds: a run's duration is finished_at - started_at, and whole
        // seconds would round a 1.4 s run to 1 s.
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(isoFormatter(fractionalSeconds: true).string(from: date))
        }
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }

    public static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        // With or without fractional seconds (documents before they were written have none).
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            if let date = isoFormatter(fractionalSeconds: true).date(from: text)
                ?? isoFormatter(fractionalSeconds: false).date(from: text) { return date }
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO 8601 date: \(text)")
        }
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return decoder
    }

    public func encoded() throws -> Data { try Self.makeEncoder().encode(self) }
}

/// An RFC 3339 formatter in UTC ("2026-11-24T10:43:52.123Z"). Made per use: the class is not
/// Sendable, and documents hold only a few dates.
private func isoFormatter(fractionalSeconds: Bool) -> ISO8601DateFormatter {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = fractionalSeconds ? [.withInternetDateTime, .withFractionalSeconds] : [.withInternetDateTime]
    return formatter
}
