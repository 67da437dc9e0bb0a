import CKVM
import Glibc
import SystemPackage

/// What one binary statistic measures (KVM API 4.133 KVM_GET_STATS_FD, `kvm_stats_desc.flags`).
public struct StatDescriptor: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case cumulative, instant, peak, linearHistogram = "linear-hist", logHistogram = "log-hist", unknown
    }
    public enum Unit: String, Sendable { case none, bytes, seconds, cycles, boolean, unknown }

    public var name: String
    public var kind: Kind
    public var unit: Unit
    /// Value = raw × base^exponent, base 10 or 2 (e.g. seconds with exponent -9 are nanoseconds).
    public var base: Int
    public var exponent: Int
    /// Number of u64 values: 1 for a counter, the bucket count for a histogram.
    public var size: Int
    /// Offset of the values from the start of the data block, in bytes.
    public var offset: Int
    /// Width of each bucket of a linear histogram.
    public var bucketSize: Int

    public var isHistogram: Bool { kind == .linearHistogram || kind == .logHistogram }
}

/// One statistic over an interval, as its type says to read it.
public enum TypedStat: Sendable, Equatable {
    /// after - before of a counter.
    case cumulative(Int64)
    /// A level (pages_4k, ...) at both ends.
    case instant(before: UInt64, after: UInt64)
    /// The highest value reached (max_mmu_rmap_size, ...): not a difference, not a sum.
    case peak(UInt64)
    /// after - before of every bucket.
    case histogram(kind: StatDescriptor.Kind, buckets: [Int64])
}

/// The values of every statistic at one moment, in the order of `BinaryStats.descriptors`' data block.
public struct StatsSnapshot: Sendable {
    /// The raw data block, one u64 per value.
    public var raw: [UInt64]

    public func value(_ descriptor: StatDescriptor) -> UInt64 { raw[descriptor.offset / 8] }

    public func histogram(_ descriptor: StatDescriptor) -> ArraySlice<UInt64> {
        raw[(descriptor.offset / 8) ..< (descriptor.offset / 8 + descriptor.size)]
    }
}

/// A binary-stats fd of a VM or vCPU: self-describing counters read with one pread.
///
/// The descriptors are parsed once when the fd is opened; `read(into:)` then copies the whole data
/// block into a snapshot allocated beforehand, so it can sit right next to a timed region.
public struct BinaryStats: ~Copyable {
    public let fd: FileDescriptor
    /// "kvm-<pid>/vcpu-<n>" style identifier from the header.
    public let identifier: String
    public let descriptors: [StatDescriptor]
    let dataOffset: Int
    let dataBytes: Int

    init(fd: FileDescriptor) throws(KVMError) {
        var header = kvm_stats_header()
        guard pread(fd.rawValue, &header, MemoryLayout<kvm_stats_header>.size, 0) == MemoryLayout<kvm_stats_header>.size else {
            let error = Errno(rawValue: Glibc.errno)
            try? fd.close()
            throw KVMError("pread", "stats header", errno: error)
        }
        let nameSize = Int(header.name_size)
        var idBytes = [UInt8](repeating: 0, count: nameSize)
        _ = pread(fd.rawValue, &idBytes, nameSize, off_t(header.id_offset))
        let identifier = String(decoding: idBytes.prefix { $0 != 0 }, as: UTF8.self)

        let stride = MemoryLayout<kvm_stats_desc>.size + nameSize
        var block = [UInt8](repeating: 0, count: stride * Int(header.num_desc))
        let got = pread(fd.rawValue, &block, block.count, off_t(header.desc_offset))
        guard got == block.count else {
            let error = Errno(rawValue: Glibc.errno)
            try? fd.close()
            throw KVMError("pread", "\(header.num_desc) stats descriptors", errno: error)
        }
        var parsed: [StatDescriptor] = []
        var end = 0
        block.withUnsafeBytes { raw in
            for index in 0..<Int(header.num_desc) {
                let at = index * stride
                let desc = raw.loadUnaligned(fromByteOffset: at, as: kvm_stats_desc.self)
                let nameBytes = raw[(at + MemoryLayout<kvm_stats_desc>.size) ..< (at + stride)]
                let flags = Int32(desc.flags)
                parsed.append(StatDescriptor(
                    name: String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self),
                    kind: Self.kind(flags & KVM_STATS_TYPE_MASK),
                    unit: Self.unit(flags & KVM_STATS_UNIT_MASK),
                    base: flags & KVM_STATS_BASE_MASK == KVM_STATS_BASE_POW2 ? 2 : 10,
                    exponent: Int(desc.exponent), size: Int(desc.size), offset: Int(desc.offset),
                    bucketSize: Int(desc.bucket_size)))
                end = max(end, Int(desc.offset) + Int(desc.size) * 8)
            }
        }
        self.fd = fd
        self.identifier = identifier
        descriptors = parsed
        dataOffset = Int(header.data_offset)
        dataBytes = end
    }

    deinit { try? fd.close() }

    private static func kind(_ bits: Int32) -> StatDescriptor.Kind {
        switch bits {
        case KVM_STATS_TYPE_CUMULATIVE: .cumulative
        case KVM_STATS_TYPE_INSTANT: .instant
        case KVM_STATS_TYPE_PEAK: .peak
        case KVM_STATS_TYPE_LINEAR_HIST: .linearHistogram
        case KVM_STATS_TYPE_LOG_HIST: .logHistogram
        default: .unknown
        }
    }

    private static func unit(_ bits: Int32) -> StatDescriptor.Unit {
        switch bits {
        case KVM_STATS_UNIT_NONE: .none
        case KVM_STATS_UNIT_BYTES: .bytes
        case KVM_STATS_UNIT_SECONDS: .seconds
        case KVM_STATS_UNIT_CYCLES: .cycles
        case KVM_STATS_UNIT_BOOLEAN: .boolean
        default: .unknown
        }
    }

    public func descriptor(named name: String) -> StatDescriptor? { descriptors.first { $0.name == name } }

    /// A zeroed snapshot of the right size; allocate it before the timed region.
    public func makeSnapshot() -> StatsSnapshot { StatsSnapshot(raw: [UInt64](repeating: 0, count: dataBytes / 8)) }

    /// Reads every value into `snapshot` with one pread; allocates nothing.
    public func read(into snapshot: inout StatsSnapshot) throws(KVMError) {
        let expected = dataBytes
        let got = snapshot.raw.withUnsafeMutableBytes { pread(fd.rawValue, $0.baseAddress, expected, off_t(dataOffset)) }
        guard got == expected else { throw KVMError("pread", "stats data, \(expected) bytes", errno: Errno(rawValue: Glibc.errno)) }
    }

    /// A fresh snapshot (allocates).
    public func read() throws(KVMError) -> StatsSnapshot {
        var snapshot = makeSnapshot()
        try read(into: &snapshot)
        return snapshot
    }

    /// after - before for every scalar statistic (histograms are summed over their buckets).
    public func deltas(from before: StatsSnapshot, to after: StatsSnapshot) -> [String: Int64] {
        var out: [String: Int64] = [:]
        for descriptor in descriptors {
            if descriptor.isHistogram {
                let a = after.histogram(descriptor).reduce(0, &+), b = before.histogram(descriptor).reduce(0, &+)
                out[descriptor.name] = Int64(bitPattern: a &- b)
            } else {
                out[descriptor.name] = Int64(bitPattern: after.value(descriptor) &- before.value(descriptor))
            }
        }
        return out
    }

    /// Every statistic read by its type (`kvm_stats_desc.flags`): a cumulative counter as its
    /// change, an instant value as its value before and after, a peak as its value after (the
    /// highest it reached since the fd's VM or vCPU was created), a histogram as the change of
    /// each bucket.
    public func typed(from before: StatsSnapshot, to after: StatsSnapshot) -> [String: TypedStat] {
        var out: [String: TypedStat] = [:]
        for descriptor in descriptors {
            switch descriptor.kind {
            case .instant:
                out[descriptor.name] = .instant(before: before.value(descriptor), after: after.value(descriptor))
            case .peak:
                out[descriptor.name] = .peak(after.value(descriptor))
            case .linearHistogram, .logHistogram:
                let buckets = zip(after.histogram(descriptor), before.histogram(descriptor)).map { Int64(bitPattern: $0 &- $1) }
                out[descriptor.name] = .histogram(kind: descriptor.kind, buckets: buckets)
            case .cumulative, .unknown:
                out[descriptor.name] = .cumulative(Int64(bitPattern: after.value(descriptor) &- before.value(descriptor)))
            }
        }
        return out
    }

    /// Every scalar statistic's current value.
    public func values(_ snapshot: StatsSnapshot) -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        for descriptor in descriptors where !descriptor.isHistogram { out[descriptor.name] = snapshot.value(descriptor) }
        return out
    }
}
