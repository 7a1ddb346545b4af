// PlexusVocabulary — the words every Plexus module shares.
//
// Owns: `NodeID` (a relay's identity, derived from its static key by PlexusCrypto) and `Name`
// (a cluster, topic or zone name as the directory stores it). Nothing else: no I/O, no
// dependencies. Every other module that names a relay or a cluster uses these types.
