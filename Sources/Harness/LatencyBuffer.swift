/// Durations (nanoseconds) recorded inside a timed loop, into storage allocated and touched
/// before it: `append` never allocates, locks or logs, and the samples are read out afterwards.
///
/// Owns its storage (`~Copyable`: one owner, freed in `deinit`). Not `Sendable`: it belongs to the
/// thread that records into it (an owner that hands it to another thread documents how).
public struct LatencyBuffer: ~Copyable {
    // SAFETY: `capacity` initialised words, owned from init to deinit (`~Copyable`: no second
    // owner can free them); `append` writes only below `capacity`, `values` reads only the
    // `recorded` words written.
    @usableFromInline let storage: UnsafeMutableBufferPointer<UInt64>
    @usableFromInline var recorded = 0

    /// Room for `capacity` samples, zeroed so that its pages are present before the timed loop.
    public init(capacity: Int) {
        precondition(capacity >= 0, "negative capacity")
        storage = .allocate(capacity: capacity)
        storage.initialize(repeating: 0)
    }

    deinit { storage.deallocate() }

    public var capacity: Int { storage.count }

    /// Samples recorded so far.
    public var count: Int { recorded }

    /// Records `nanos`; returns false (and records nothing) when the buffer is full.
    @inlinable @discardableResult
    public mutating func append(_ nanos: UInt64) -> Bool {
        guard recorded < storage.count else { return false }
        // SAFETY: recorded < capacity (checked above).
        storage[recorded] = nanos
        recorded += 1
        return true
    }

    /// The samples in the order recorded (allocates: read it outside the timed region).
    public var values: [UInt64] {
        // SAFETY: the first `recorded` words, all written by `append`.
        Array(storage[0..<recorded])
    }
}
