// swift-tools-version: 6.1
// kvmbench: a benchmark and regression suite for KVM MMU scalability.
//
// Layers, bottom to top (dependencies point down only):
//   CKVM (C shim for the KVM uapi) -> KVM (owning fds, memslots, dirty log/ring, stats)
//   Backings (host memory, through CHostMemory for the mm/perf uapi, and the host-change ledger)
//   GuestPrograms (x86-64 page tables and CPL3 guest programs)
//   Statistics (pure maths), Results (the versioned result document)
//   Parameters (parameter declarations and tables: parsing, defaults, ranges, sweeps)
//   Host (fingerprint: sysfs, KVM caps, hwloc, libnuma; pre-flight checks)
//   Harness (the VM, vCPU pool, memslot table, stats snapshots, userfaultfd service, the clock)
//   Selftests (running KVM selftest binaries, reading their output into figures in Results' units)
//   Scenarios (one folder per MMU scenario, the selftest case, and the catalog)
//   Pipeline (run plans, pre-flight, case runner, repetitions, interrupts, progress, result writing)
//   Reporting (tables, JSON, HTML, Markdown, JUnit), Suites (suite files, baselines, gate)
//   History (runs recorded in SQLite through GRDB, or in a shared PostgreSQL through libpq)
//   kvmbench (the command line)
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "kvmbench",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "kvmbench", targets: ["kvmbench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        .target(name: "CKVM", path: "Sources/CKVM"),
        // mm and perf uapi for host memory (huge page flags, memfd_create, perf_event_open): header only.
        .systemLibrary(name: "CHostMemory", path: "Sources/CHostMemory"),
        .systemLibrary(name: "CNUMA", path: "Sources/CNUMA", pkgConfig: "numa",
                       providers: [.apt(["libnuma-dev"])]),
        .systemLibrary(name: "CHwloc", path: "Sources/CHwloc", pkgConfig: "hwloc",
                       providers: [.apt(["libhwloc-dev"])]),
        // The shared fleet history on PostgreSQL (`--history postgres://...`): libpq, the
        // PostgreSQL project's own C client, rather than a Swift driver that brings SwiftNIO and
        // BoringSSL (minutes of every clean build on 2 cores).
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ", pkgConfig: "libpq",
                       providers: [.apt(["libpq-dev"])]),
        .target(name: "KVM", dependencies: [
            "CKVM", .product(name: "SystemPackage", package: "swift-system"),
        ], swiftSettings: strict),
        .target(name: "Backings", dependencies: [
            "KVM", "CHostMemory", "CNUMA", .product(name: "SystemPackage", package: "swift-system"),
        ], swiftSettings: strict),
        .target(name: "GuestPrograms", dependencies: [], swiftSettings: strict),
        .target(name: "Statistics", dependencies: [], swiftSettings: strict),
        .target(name: "Parameters", dependencies: [], swiftSettings: strict),
        .target(name: "Results", dependencies: ["Statistics"], swiftSettings: strict),
        .target(name: "Host", dependencies: [
            "KVM", "Backings", "Results", "CHwloc", "CNUMA", "CHostMemory",
        ], swiftSettings: strict),
        // What every scenario builds on: the VM with its memslot table, the vCPU pool (barrier,
        // placement, watchdog), stats snapshots, the userfaultfd service, the case context and the
        // one monotonic clock. Unsafe code lives here and below, never in a scenario.
        .target(name: "Harness", dependencies: [
            "KVM", "Backings", "GuestPrograms", "Results", "Statistics", "Host", "Parameters",
            .product(name: "Histogram", package: "hdrhistogram-swift"),
            .product(name: "SystemPackage", package: "swift-system"),
        ], swiftSettings: strict),
        .target(name: "Selftests", dependencies: ["Harness", "Results", "Statistics"], swiftSettings: strict),
        // One folder per scenario (Sources/Scenarios/<Name>/) and the catalog that lists them.
        .target(name: "Scenarios", dependencies: [
            "Harness", "KVM", "Backings", "GuestPrograms", "Results", "Statistics", "Host", "Selftests", "Parameters",
            .product(name: "SystemPackage", package: "swift-system"),
        ], swiftSettings: strict),
        .target(name: "Pipeline", dependencies: [
            "Scenarios", "Results", "Statistics", "Reporting", "Host", "Backings",
        ], swiftSettings: strict),
        .target(name: "Reporting", dependencies: ["Results", "Statistics", "Parameters"], swiftSettings: strict),
        .target(name: "Suites", dependencies: [
            "Pipeline", "Scenarios", "Results", "Statistics", "Reporting", "Host",
            .product(name: "Yams", package: "Yams"),
        ], resources: [], swiftSettings: strict),
        .target(name: "History", dependencies: [
            "Results", "Statistics", "CLibPQ", .product(name: "GRDB", package: "GRDB.swift"),
        ], swiftSettings: strict),
        .executableTarget(name: "kvmbench", dependencies: [
            "Pipeline", "History", "Suites", "Scenarios", "Reporting", "Results", "Host", "KVM", "Backings",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: strict),

        // libFuzzer targets for every parser of outside input (scripts/fuzz); replays inputs in any build.
        .executableTarget(name: "kvmbench-fuzz", dependencies: ["Suites", "Scenarios", "Host", "Results"],
                          path: "Fuzz/Sources", swiftSettings: strict),

        // Helpers shared by several test targets (python3 runs, skips whose probe runs only when asked,
        // the host session tests build guests on, the suite tests' fixtures). No trait probes here.
        .target(name: "TestSupport", dependencies: ["Harness", "Host", "Results", "Scenarios", "Suites"],
                path: "Tests/TestSupport", swiftSettings: strict),
        // One test target per module, named after it (the kvmbench executable's: CLITests), in the
        // order of the layers above; a suite that spans modules sits with the one most of it tests.
        .testTarget(name: "KVMTests", dependencies: ["KVM", "CKVM", "Backings"], swiftSettings: strict),
        .testTarget(name: "BackingsTests", dependencies: ["Backings"], swiftSettings: strict),
        .testTarget(name: "GuestProgramsTests", dependencies: ["GuestPrograms"], swiftSettings: strict),
        .testTarget(name: "StatisticsTests", dependencies: ["Statistics"], swiftSettings: strict),
        .testTarget(name: "ResultsTests", dependencies: ["Results", "Pipeline", "Reporting", "Statistics"], swiftSettings: strict),
        .testTarget(name: "ParametersTests", dependencies: ["Parameters", "Harness", "Reporting", "Results", "Scenarios", "Suites", "TestSupport"],
                    exclude: ["Fixtures"], swiftSettings: strict),
        .testTarget(name: "HostTests", dependencies: ["Host", "Backings", "Harness", "Scenarios", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "SelftestsTests", dependencies: ["Selftests", "Harness", "Scenarios", "Pipeline", "Host", "Suites", "Results", "TestSupport"],
                    exclude: ["Fixtures"], swiftSettings: strict),
        .testTarget(name: "HarnessTests", dependencies: ["Harness", "Backings", "GuestPrograms", "Host", "KVM", "Pipeline", "Results", "Scenarios", "TestSupport"],
                    swiftSettings: strict),
        .testTarget(name: "ScenariosTests", dependencies: ["Scenarios", "Harness", "Pipeline", "KVM", "Backings", "GuestPrograms", "Results", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "Harness", "Host", "KVM", "Results", "Scenarios", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "ReportingTests", dependencies: ["Reporting", "Results", "Statistics", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "SuitesTests", dependencies: ["Suites", "Pipeline", "Results", "Reporting", "Scenarios", "TestSupport"],
                    exclude: ["Fixtures"], swiftSettings: strict),
        .testTarget(name: "HistoryTests", dependencies: ["History", "Results", "Statistics", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "CLITests", dependencies: ["TestSupport"], swiftSettings: strict),
    ]
)
