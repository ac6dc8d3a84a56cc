//! A rehearsal's audience key: the secret its host hands the load tester, so that its
//! simulated viewers may join the private rehearsal (docs/protocol.md, section 9.10).
//! Like a session token, only its digest is kept: a leaked database lets no one in.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

#[derive(Clone, PartialEq, Eq)]
pub struct AudienceKey(String);

impl std::fmt::Debug for AudienceKey {
    /// Never printed: a logged key would let its reader into the rehearsal.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AudienceKey(…)")
    }
}

impl AudienceKey {
    /// A fresh key: 24 random bytes, 32 characters of URL-safe base64 (no quoting needed
    /// on a command line or in an environment variable).
    pub fn generate() -> AudienceKey {
        let mut raw = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut raw);
        AudienceKey(URL_SAFE_NO_PAD.encode(raw))
    }

    /// What is kept of a key, and what a key presented at `join` is compared by.
    pub fn digest(text: &str) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::AudienceKey;

    #[test]
    fn keys_are_fresh_and_kept_only_as_their_digest() {
        let (a, b) = (AudienceKey::generate(), AudienceKey::generate());
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 32);
        assert_eq!(AudienceKey::digest(a.as_str()), AudienceKey::digest(a.as_str()));
        assert_ne!(AudienceKey::digest(a.as_str()), AudienceKey::digest(b.as_str()));
        assert!(!AudienceKey::digest(a.as_str()).contains(a.as_str()));
        assert_eq!(format!("{a:?}"), "AudienceKey(…)");
    }
}
