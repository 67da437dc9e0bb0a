import CLibPQ
import Foundation

// The thin owning layer over libpq, PostgreSQL's own C client library (Debian's libpq-dev): the one
// place in History that touches C pointers. Everything is sent and read as text; each parameter
// carries its type's OID, so the server never has to guess it.

/// A value bound to a `$n` placeholder of a statement: text in PostgreSQL's input syntax with the
/// OID of its type, or SQL NULL.
struct PQParameter {
    /// pg_type OIDs (src/include/catalog/pg_type.dat); stable across server versions.
    static let boolOID: Oid = 16, int8OID: Oid = 20, textOID: Oid = 25, float8OID: Oid = 701, int8ArrayOID: Oid = 1016

    let type: Oid
    /// nil is SQL NULL.
    let text: String?

    init(_ value: String?) { type = Self.textOID; text = value }
    init(_ value: Int64) { type = Self.int8OID; text = String(value) }
    init(_ value: Bool) { type = Self.boolOID; text = value ? "true" : "false" }
    /// Swift's description is the shortest text that reads back as the same double.
    init(_ value: Double?) { type = Self.float8OID; text = value.map { "\($0)" } }
    init(_ values: [Int64]) { type = Self.int8ArrayOID; text = "{" + values.map(String.init).joined(separator: ",") + "}" }
}

/// libpq's message (which may span lines: a connection attempt per address, DETAIL, HINT) as one line.
func oneLine(_ message: String) -> String {
    message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        .filter { !$0.isEmpty }.joined(separator: " ")
}

/// One connection to a server (libpq's PGconn), closed with PQfinish when the value ends. Not
/// Sendable: libpq allows one thread at a time on a connection, so its owner serialises access.
struct PQConnection: ~Copyable {
    private let handle: OpaquePointer

    /// Connects with `conninfo`, a `postgres://` URI or `key=value` pairs (libpq parses both, and
    /// fills what they leave out from PGHOST, PGUSER, PGPASSWORD, ~/.pgpass, PGSSLMODE...: the
    /// defaults are the local socket, the OS user and sslmode `prefer`). Blocks until connected.
    init(_ conninfo: String) throws(HistoryServerError) {
        // SAFETY: PQconnectdb copies the string it reads during the call; it returns NULL only when
        // it cannot allocate the connection object, otherwise a PGconn we own and must PQfinish.
        guard let handle = PQconnectdb(conninfo) else { throw HistoryServerError("out of memory") }
        guard PQstatus(handle) == CONNECTION_OK else {
            let message = Self.message(PQerrorMessage(handle))
            PQfinish(handle)
            throw HistoryServerError(message)
        }
        // Errors as one "ERROR:  primary message" line; notices (CREATE ... IF NOT EXISTS
        // skipping, say) are dropped instead of going to stderr, libpq's default.
        PQsetErrorVerbosity(handle, PQERRORS_TERSE)
        // SAFETY: a C function that ignores its arguments; no context pointer to keep alive.
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
        self.handle = handle
    }

    deinit {
        // SAFETY: the handle came from PQconnectdb and is finished exactly once, here.
        PQfinish(handle)
    }

    /// Runs one statement with its `$n` parameters (PQexecParams: values never become SQL text).
    /// Throws the server's or libpq's message unless the statement succeeded.
    func execute(_ sql: String, _ parameters: [PQParameter] = []) throws(HistoryServerError) -> PQResult {
        // Every value NUL-terminated in one buffer; a NULL parameter is a NULL pointer.
        var bytes: [CChar] = []
        var offsets: [Int?] = []
        for parameter in parameters {
            if let text = parameter.text {
                offsets.append(bytes.count)
                bytes.append(contentsOf: text.utf8CString)
            } else {
                offsets.append(nil)
            }
        }
        let types = parameters.map(\.type)
        // SAFETY: `values` points into `bytes`, and both buffers live through the PQexecParams
        // call, which copies what it sends before returning. Text format in and out (the nil
        // lengths and formats), so libpq reads each value up to its NUL.
        let result = bytes.withUnsafeBufferPointer { buffer in
            let values: [UnsafePointer<CChar>?] = offsets.map { offset in offset.map { buffer.baseAddress! + $0 } }
            return types.withUnsafeBufferPointer { types in
                values.withUnsafeBufferPointer { values in
                    PQexecParams(handle, sql, Int32(parameters.count), types.baseAddress, values.baseAddress, nil, nil, 0)
                }
            }
        }
        // NULL only when libpq could not send the statement or allocate the result.
        guard let result else { throw HistoryServerError(Self.message(PQerrorMessage(handle))) }
        let owned = PQResult(owning: result)
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            throw HistoryServerError(Self.message(PQresultErrorMessage(result)))
        }
        return owned
    }

    /// A message libpq owns (the connection's or a result's), copied, on one line.
    private static func message(_ pointer: UnsafePointer<CChar>?) -> String {
        // SAFETY: libpq returns a NUL-terminated string that lives as long as its connection or
        // result, both alive here; it is copied before either ends.
        let text = pointer.map { String(cString: $0) } ?? ""
        let line = oneLine(text)
        return line.isEmpty ? "libpq gave no message" : line
    }

    /// The options `conninfo` sets (keyword to value), as PQconninfoParse reads them without
    /// connecting; throws libpq's message for a URI or option it does not accept.
    static func options(_ conninfo: String) throws(HistoryServerError) -> [String: String] {
        var error: UnsafeMutablePointer<CChar>?
        // SAFETY: PQconninfoParse returns a malloc'd array ended by a NULL keyword, freed below with
        // PQconninfoFree; on failure NULL and, in `error`, a malloc'd message freed with PQfreemem.
        guard let parsed = PQconninfoParse(conninfo, &error) else {
            let text = error.map { String(cString: $0) } ?? "cannot parse the connection string"
            if let error { PQfreemem(error) }
            throw HistoryServerError(oneLine(text))
        }
        defer { PQconninfoFree(parsed) }
        var options: [String: String] = [:]
        var option = parsed
        // SAFETY: walks the array up to its NULL-keyword terminator; keyword and val are
        // NUL-terminated strings the array owns, copied before it is freed.
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val { options[String(cString: keyword)] = String(cString: value) }
            option += 1
        }
        return options
    }
}

/// A statement's result (libpq's PGresult), freed with PQclear when the value ends. Values are
/// text; the accessors parse them and throw for a NULL where a column may not hold one.
struct PQResult: ~Copyable {
    private let handle: OpaquePointer

    fileprivate init(owning handle: OpaquePointer) { self.handle = handle }

    deinit {
        // SAFETY: the handle came from PQexecParams and is cleared exactly once, here.
        PQclear(handle)
    }

    var rowCount: Int { Int(PQntuples(handle)) }

    /// The rows, each made into a `T` by `transform` from this result and the row's index.
    func map<T>(_ transform: (borrowing PQResult, Int) throws -> T) rethrows -> [T] {
        var rows: [T] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<rowCount { rows.append(try transform(self, row)) }
        return rows
    }

    /// The value at `row`, `column` as text; nil for SQL NULL or a cell past the result's end.
    func text(_ row: Int, _ column: Int) -> String? {
        guard row < rowCount, column < Int(PQnfields(handle)),
              PQgetisnull(handle, Int32(row), Int32(column)) == 0 else { return nil }
        // SAFETY: the cell exists (checked above); PQgetvalue returns a NUL-terminated string the
        // result owns, copied here while the result is alive.
        return String(cString: PQgetvalue(handle, Int32(row), Int32(column)))
    }

    func string(_ row: Int, _ column: Int) throws(HistoryServerError) -> String {
        guard let text = text(row, column) else { throw Self.missing(row, column) }
        return text
    }

    func int64(_ row: Int, _ column: Int) throws(HistoryServerError) -> Int64 {
        guard let value = text(row, column).flatMap({ Int64($0) }) else { throw Self.missing(row, column, "a BIGINT") }
        return value
    }

    /// PostgreSQL's text form of BOOLEAN: `t` or `f`.
    func bool(_ row: Int, _ column: Int) throws(HistoryServerError) -> Bool {
        switch text(row, column) {
        case "t": return true
        case "f": return false
        default: throw Self.missing(row, column, "a BOOLEAN")
        }
    }

    /// DOUBLE PRECISION, or nil for NULL. The server's text is the shortest that reads back exactly
    /// (PostgreSQL 12 and newer; the connection asks older servers for every digit).
    func optionalDouble(_ row: Int, _ column: Int) throws(HistoryServerError) -> Double? {
        guard let text = text(row, column) else { return nil }
        guard let value = Double(text) else { throw Self.missing(row, column, "a DOUBLE PRECISION") }
        return value
    }

    private static func missing(_ row: Int, _ column: Int, _ what: String = "a value") -> HistoryServerError {
        HistoryServerError("the server returned no \(what) in row \(row + 1), column \(column + 1)")
    }
}
