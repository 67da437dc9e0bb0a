import Foundation
import Glibc

/// kvmbench-fuzz: the libFuzzer targets of kvmbench's parsers of outside input (see FuzzTargets).
///
///   kvmbench-fuzz list
///   kvmbench-fuzz replay TARGET FILE|DIR...        every input once (any build; regression runs)
///   kvmbench-fuzz TARGET [libFuzzer options] [CORPUS...]   fuzz (only a -sanitize=fuzzer build)
///
/// scripts/fuzz builds it with -sanitize=fuzzer (-DFUZZING) in .build-fuzz and runs every target.
@main
struct FuzzMain {
    static func main() {
        let arguments = CommandLine.arguments
        guard arguments.count >= 2 else { usage() }
        switch arguments[1] {
        case "list":
            for target in FuzzTargets.all { print(target.name.padding(toLength: 16, withPad: " ", startingAt: 0) + target.summary) }
        case "replay":
            guard arguments.count >= 3, let target = FuzzTargets.named(arguments[2]) else { usage() }
            var count = 0
            for path in arguments.dropFirst(3) {
                for file in inputs(at: path) {
                    guard let data = FileManager.default.contents(atPath: file) else {
                        FileHandle.standardError.write(Data("kvmbench-fuzz: cannot read \(file)\n".utf8))
                        exit(1)
                    }
                    target.run(Array(data))
                    count += 1
                }
            }
            print("\(target.name): \(count) input(s) replayed, no crash")
        default:
            guard let target = FuzzTargets.named(arguments[1]) else { usage() }
            fuzz(target, options: Array(arguments.dropFirst(2)))
        }
    }

    static func usage() -> Never {
        FileHandle.standardError.write(Data("usage: kvmbench-fuzz list | replay TARGET FILE|DIR... | TARGET [libFuzzer options] [CORPUS...]; targets: \(FuzzTargets.all.map(\.name).joined(separator: ", "))\n".utf8))
        exit(64)
    }

    /// Regular files at `path`: itself, or those directly in it (sorted).
    static func inputs(at path: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return [] }
        guard isDirectory.boolValue else { return [path] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.sorted().filter { !$0.hasPrefix(".") }.map { path + "/" + $0 }
    }
}

/// The target libFuzzer calls back: the one named by the first argument.
private let selected: FuzzTarget? = CommandLine.arguments.count > 1 ? FuzzTargets.named(CommandLine.arguments[1]) : nil

#if FUZZING
/// libFuzzer's entry for programs with their own main (compiler-rt FuzzerInterface.h).
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                                 _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                                 _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

/// libFuzzer's callback by name, for when its own main (FuzzerMain.cpp) is the one linked.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    // SAFETY: libFuzzer passes `size` readable bytes at `data` for the duration of the call.
    selected?.run(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

extension FuzzMain {
    static func fuzz(_ target: FuzzTarget, options: [String]) -> Never {
        // argv for libFuzzer: the program name, then its options and corpus directories.
        var cStrings: [UnsafeMutablePointer<CChar>?] = ([CommandLine.arguments[0]] + options).map { strdup($0) } + [nil]
        var argc = Int32(cStrings.count - 1)
        let status = cStrings.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = buffer.baseAddress
            return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
                // SAFETY: libFuzzer passes `size` readable bytes at `data` for the duration of the call.
                let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
                selected?.run(bytes)
                return 0
            }
        }
        exit(status)
    }
}
#else
extension FuzzMain {
    static func fuzz(_ target: FuzzTarget, options: [String]) -> Never {
        FileHandle.standardError.write(Data("kvmbench-fuzz: this build has no libFuzzer; scripts/fuzz builds one (swift build -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING in .build-fuzz); `kvmbench-fuzz replay \(target.name) FILE...` works in any build\n".utf8))
        exit(69)
    }
}
#endif
