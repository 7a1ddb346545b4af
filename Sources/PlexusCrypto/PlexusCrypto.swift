// PlexusCrypto — typed libsodium, and nothing hand-rolled.
//
// Owns: keys that cannot be confused with each other (`NetworkKey`, `X25519PrivateKey`, …),
// `SecretBytes` (zeroed on release, compared in constant time), AEADs (ChaCha20-Poly1305,
// XChaCha20-Poly1305), BLAKE2b and HMAC, key files (0600, refused when others can read them),
// keyrings for rotation, and a relay's `StaticIdentity` with the `NodeID` derived from it.
// Every call throws on failure; none returns nil for bad input.
