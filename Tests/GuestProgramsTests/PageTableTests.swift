import GuestPrograms
import Testing

@Suite("guest page tables")
struct PageTableTests {
    /// Builds the image for a layout into a zeroed buffer and returns a walker over it.
    func withImage(_ layout: GuestLayout, adBits: GuestADBits = .preset, _ body: (PageTableWalker, UnsafeMutableRawBufferPointer) -> Void) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(layout.systemSize), alignment: 4096)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        GuestImage.write(layout: layout, into: buffer, adBits: adBits)
        body(PageTableWalker(system: UnsafeRawBufferPointer(buffer), cr3: layout.pml4Address), buffer)
    }

    @Test(arguments: [GuestPageSize.size4k, .size2m])
    func testMemoryIsIdentityMappedForUserWrites(pageSize: GuestPageSize) {
        let layout = GuestLayout(vcpuCount: 2, testSize: 64 << 20, guestPageSize: pageSize)
        withImage(layout) { walker, _ in
            for offset in stride(from: UInt64(0), to: layout.testSize, by: 4096 * 97) {
                let address = layout.testBase + offset + 8
                let translation = walker.translate(address)
                #expect(translation?.physical == address)
                #expect(translation?.pageSize == pageSize.bytes)
                #expect(translation?.user == true)
                #expect(translation?.writable == true)
            }
            let last = layout.testBase + layout.testSize - 8
            #expect(walker.translate(last)?.physical == last)
        }
    }

    /// Linux guests create PTEs with Accessed set; kvmbench's default tables must too, or shadow
    /// paging takes one fault per page (no prefetch) and writes the bits back on each.
    @Test(arguments: [GuestPageSize.size4k, .size2m])
    func accessedAndDirtyArePresetByDefaultAndClearOnRequest(pageSize: GuestPageSize) {
        let layout = GuestLayout(vcpuCount: 2, testSize: 8 << 20, guestPageSize: pageSize)
        for address in [layout.testBase, layout.testBase + layout.testSize - 4096, layout.parameterBlockAddress(vcpu: 1)] {
            withImage(layout) { walker, _ in
                let entries = walker.entries(address) ?? []
                #expect(entries.count == (pageSize == .size4k && address >= layout.testBase ? 4 : 3))
                #expect(entries.allSatisfy { $0 & PTE.accessed != 0 })
                #expect(entries.last.map { $0 & PTE.dirty != 0 } == true)
            }
            withImage(layout, adBits: .clear) { walker, _ in
                let entries = walker.entries(address) ?? []
                #expect(!entries.isEmpty)
                #expect(entries.allSatisfy { $0 & (PTE.accessed | PTE.dirty) == 0 })
            }
        }
    }

    @Test func nothingIsMappedPastTheTestMemory() {
        let layout = GuestLayout(vcpuCount: 1, testSize: 6 << 20, guestPageSize: .size4k)
        withImage(layout) { walker, _ in
            #expect(walker.translate(layout.testBase + layout.testSize) == nil)
            #expect(walker.translate(layout.testBase - 4096) == nil)
            #expect(walker.translate(layout.testBase + (1 << 39)) == nil)
        }
    }

    @Test func systemRegionHoldsCodeAndParameterBlocksMappedForCPL3() {
        let layout = GuestLayout(vcpuCount: 4, testSize: 8 << 20, guestPageSize: .size2m)
        withImage(layout) { walker, buffer in
            for address in [GuestLayout.userCodeAddress, layout.parameterBlockAddress(vcpu: 3), GuestLayout.tssAddress] {
                #expect(walker.translate(address)?.physical == address)
                #expect(walker.translate(address)?.user == true)
            }
            let code = WorkloadProgram.code
            #expect(Array(buffer[Int(GuestLayout.userCodeAddress)..<Int(GuestLayout.userCodeAddress) + code.count]) == code)
        }
    }

    @Test func pageTableSpaceFitsLargeGuests() {
        // 64 GiB with 4 KiB guest pages needs 32768 page tables: 128 MiB.
        let layout = GuestLayout(vcpuCount: 64, testSize: 64 << 30, guestPageSize: .size4k)
        #expect(layout.pageTableBytes >= (64 << 30) / 512)
        #expect(layout.systemSize % (2 << 20) == 0)
        #expect(layout.systemSize >= GuestLayout.pageTablesAddress + layout.pageTableBytes)
    }

    @Test func gdtHoldsCPL3SegmentsAndTSSAllowsAllPorts() {
        let layout = GuestLayout(vcpuCount: 1, testSize: 2 << 20, guestPageSize: .size4k)
        withImage(layout) { _, buffer in
            let userCode = buffer.load(fromByteOffset: Int(GuestLayout.gdtAddress) + 0x30, as: UInt64.self)
            #expect((userCode >> 45) & 3 == 3)      // DPL 3
            #expect((userCode >> 53) & 1 == 1)      // L: 64-bit
            let tss = Int(GuestLayout.tssAddress)
            #expect(buffer.load(fromByteOffset: tss + 0x66, as: UInt16.self) == 0x68) // I/O bitmap right after the TSS
            #expect(buffer[tss + 0x68 + 0x1000 / 8] == 0)                          // sync port allowed
            #expect(buffer[tss + Int(DescriptorTables.tssLimit)] == 0xFF)           // bitmap terminator
        }
    }

    @Test func writeThresholdCoversTheWholeRange() {
        func threshold(_ percent: Int) -> UInt64 {
            WorkloadParameters(base: 0, accesses: 0, stride: 4096, writePercent: percent, random: false, targets: 0, token: 0).writeThreshold
        }
        #expect(threshold(0) == 0)
        #expect(threshold(100) == 1 << 32)
        #expect(threshold(50) == 1 << 31)
    }
}
