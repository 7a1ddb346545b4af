// The libFuzzer entry shared by the fuzz targets under Fuzz/: hands the process arguments to
// libFuzzer's driver and exits with its status. Only compiled into a fuzzing build
// (scripts/fuzz.sh passes -DPLEXUS_FUZZING and -sanitize=fuzzer, which provides the driver).
#if PLEXUS_FUZZING
#if canImport(Glibc)
import Glibc
#endif

@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

/// Runs libFuzzer with `callback` as the target (it must return 0) and exits with its status.
public func runLibFuzzer(_ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Never {
    var arguments = CommandLine.argc
    var argumentVector: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&arguments, &argumentVector, callback))
}
#endif
