// libFuzzer target for the relay core (main.swift: top-level code needs this name beside other files) (`RelayCore`, pure): the input is read as a sequence of
// client operations (connect, handshake with a name, register, subscribe, publish, request,
// reply, tunnel operations, close, socket loss, decoder errors, buffered input, time advance,
// stalled writers, draining), with names, sizes, ids and counts taken from the input. After
// every operation the invariants of `CoreFuzzSession.checkInvariants` must hold.
//
// Built with libFuzzer only by `scripts/fuzz.sh relay-core SECONDS` (-DPLEXUS_FUZZING). In a
// normal build the executable runs the same operations on seeded random inputs:
// `PlexusFuzzRelayCore smoke [COUNT] [SEED]`.
#if PLEXUS_FUZZING
import PlexusFuzzDriver

runLibFuzzer { data, size in
    CoreFuzzSession.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
func smoke() {
    let arguments = CommandLine.arguments
    let count = arguments.count > 2 ? Int(arguments[2]) ?? 10_000 : 10_000
    var seed = arguments.count > 3 ? max(1, UInt64(arguments[3]) ?? 1) : 1
    var operations = 0
    for _ in 0..<count {
        let length = Int(nextRandom(&seed) % 2048)
        let input = (0..<length).map { _ in UInt8(truncatingIfNeeded: nextRandom(&seed)) }
        operations += input.withUnsafeBytes { CoreFuzzSession.run($0) }
    }
    print("relay-core smoke: \(count) random inputs, \(operations) operations, every invariant held")
}

smoke()

func nextRandom(_ state: inout UInt64) -> UInt64 {
    state ^= state << 13
    state ^= state >> 7
    state ^= state << 17
    return state
}
#endif
