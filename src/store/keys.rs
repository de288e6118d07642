//! Key encoding for the sled store (filled in with the sled implementation).
