// PlexusNoise — the Noise Protocol Framework handshake as a pure state machine.
//
// Owns: `HandshakeState`, `SymmetricState`, `CipherState` and handshake patterns described as data
// (NN, NNpsk0, NNpsk2, XX, XXpsk3), reproducing the published vectors byte for byte. Built only
// on PlexusCrypto's libsodium primitives.
