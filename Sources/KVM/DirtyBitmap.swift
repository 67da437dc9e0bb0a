/// A dirty bitmap: one bit per 4 KiB page (bit i of word i / 64 is page i), in whole 64-bit
/// words, the layout KVM_GET_DIRTY_LOG fills and KVM_CLEAR_DIRTY_LOG reads. Also what a dirty
/// ring's entries are gathered into.
///
/// Owns its words, allocated and zeroed (so touched) in `init`: filling it with the dirty-log
/// ioctls, reading it and setting bits never allocate, so all may sit in timed regions. Not
/// `Sendable`: one thread at a time uses it (a caller that shares one keeps it behind a lock).
public final class DirtyBitmap {
    /// Pages the bitmap covers; bits from `pageCount` up to the end of the last word are padding.
    public let pageCount: Int
    /// 64-bit words: ceil(pageCount / 64), what KVM copies for a slot of `pageCount` pages.
    public let wordCount: Int
    // SAFETY: `wordCount` initialised words, owned by this object from init to deinit; every
    // access below checks its index against `wordCount`, and the ioctls write or read at most
    // `wordCount` words (see `VirtualMachine.getDirtyLog(of:into:)` and `clearDirtyLog(slot:firstPage:pageCount:bitmap:)`).
    @usableFromInline let words: UnsafeMutablePointer<UInt64>

    /// A zeroed bitmap for `pages` pages.
    public init(pages: Int) {
        precondition(pages >= 0, "negative page count")
        pageCount = pages
        wordCount = (pages + 63) / 64
        words = .allocate(capacity: wordCount)
        words.initialize(repeating: 0, count: wordCount)
    }

    deinit { words.deallocate() }

    /// Word `index` (pages 64 * index ..< 64 * index + 64).
    @inlinable
    public subscript(word index: Int) -> UInt64 {
        precondition(index >= 0 && index < wordCount, "dirty bitmap word out of range")
        // SAFETY: index < wordCount (checked above).
        return words[index]
    }

    /// Sets page `page`'s bit.
    @inlinable
    public func insert(page: Int) {
        precondition(page >= 0 && page < pageCount, "dirty bitmap page out of range")
        // SAFETY: page < pageCount (checked above), so page >> 6 < wordCount.
        words[page >> 6] |= 1 << UInt64(page & 63)
    }

    /// Clears every bit.
    public func removeAll() {
        // SAFETY: exactly the `wordCount` words this object owns.
        words.update(repeating: 0, count: wordCount)
    }
}

extension VirtualMachine {
    /// KVM_GET_DIRTY_LOG of `slot` into `bitmap` (see `getDirtyLog(slot:into:)`). `slot` must be
    /// the slot as KVM has it: KVM writes ceil(slot.pageCount / 64) words, which `bitmap` must hold.
    package func getDirtyLog(of slot: Memslot, into bitmap: DirtyBitmap) throws(KVMError) {
        precondition(bitmap.pageCount >= slot.pageCount,
                     "a dirty bitmap of \(bitmap.pageCount) pages cannot hold slot \(slot.id)'s \(slot.pageCount)")
        // SAFETY: KVM copies ALIGN(npages, 64) / 8 bytes, npages being the slot's (the caller's
        // record of it, `slot`); the bitmap holds ceil(bitmap.pageCount / 64) >= that many words
        // and lives until the call returns.
        try getDirtyLog(slot: slot.id, into: UnsafeMutableRawPointer(bitmap.words))
    }

    /// KVM_CLEAR_DIRTY_LOG of pages [firstPage, firstPage + pageCount) of `slot` with the bits of
    /// `bitmap` (bit 0 = `firstPage`; see `clearDirtyLog(slot:firstPage:pageCount:bitmap:)`).
    package func clearDirtyLog(slot: UInt32, firstPage: UInt64, pageCount: UInt32, bitmap: DirtyBitmap) throws(KVMError) {
        precondition(Int(pageCount) <= bitmap.wordCount * 64,
                     "KVM_CLEAR_DIRTY_LOG of \(pageCount) pages with a dirty bitmap of \(bitmap.wordCount) words")
        // SAFETY: KVM reads ALIGN(pageCount, 64) / 8 bytes from the bitmap, at most its
        // `wordCount` words (checked above); the bitmap lives until the call returns.
        try clearDirtyLog(slot: slot, firstPage: firstPage, pageCount: pageCount, bitmap: UnsafeMutableRawPointer(bitmap.words))
    }
}
