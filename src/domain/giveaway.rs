//! A provably fair giveaway draw. The server commits to a random seed when the giveaway
//! starts (publishing only its hash), and reveals it with the entry list when entries
//! close; the winner then follows from the two by a rule anyone can recompute
//! (docs/protocol.md, section 4.14).

use super::AccountId;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Who may enter a giveaway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryRule {
    /// Any signed-in account but the host.
    SignedIn,
    /// Accounts that follow the host.
    Followers,
    /// Accounts with a paid order in this room.
    Buyers,
}

impl EntryRule {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryRule::SignedIn => "signed_in",
            EntryRule::Followers => "followers",
            EntryRule::Buyers => "buyers",
        }
    }

    pub fn parse(s: &str) -> Option<EntryRule> {
        [EntryRule::SignedIn, EntryRule::Followers, EntryRule::Buyers].into_iter().find(|r| r.as_str() == s)
    }
}

/// The secret a giveaway's draw follows from: 32 random bytes, kept until entries close.
#[derive(Clone, PartialEq, Eq)]
pub struct Seed([u8; 32]);

impl std::fmt::Debug for Seed {
    /// Never printed: a logged seed would let its reader know the winner in advance.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seed(…)")
    }
}

impl Seed {
    pub fn random() -> Seed {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        Seed(bytes)
    }

    /// From its lower-case hex form, as stored.
    pub fn from_hex(hex: &str) -> Option<Seed> {
        let bytes: [u8; 32] = hex::decode(hex).ok()?.try_into().ok()?;
        Some(Seed(bytes))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// What is published at the start: the hex SHA-256 of the seed's 32 bytes.
    pub fn commitment(&self) -> String {
        hex::encode(Sha256::digest(self.0))
    }

    /// The winner's position in `entries` (account ids, ascending): the first 8 bytes of
    /// SHA-256(seed ‖ the ids in decimal joined by ","), read big-endian, modulo the
    /// number of entries. `None` without entries.
    pub fn winner_index(&self, entries: &[AccountId]) -> Option<usize> {
        if entries.is_empty() {
            return None;
        }
        let joined = entries.iter().map(|id| id.get().to_string()).collect::<Vec<_>>().join(",");
        let digest = Sha256::new().chain_update(self.0).chain_update(joined.as_bytes()).finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        Some((u64::from_be_bytes(first) % entries.len() as u64) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commitment_and_the_draw_follow_the_documented_rule() {
        let seed = Seed::from_hex(&"01".repeat(32)).unwrap();
        assert_eq!(seed.commitment(), hex::encode(Sha256::digest([1u8; 32])));
        let ids: Vec<AccountId> = [3, 5, 12].into_iter().map(|n| AccountId::try_from(n).unwrap()).collect();
        let mut input = vec![1u8; 32];
        input.extend_from_slice(b"3,5,12");
        let digest = Sha256::digest(&input);
        let expected = u64::from_be_bytes(digest[..8].try_into().unwrap()) % 3;
        assert_eq!(seed.winner_index(&ids), Some(expected as usize));
        assert_eq!(seed.winner_index(&[]), None);
        assert_eq!(Seed::from_hex(&seed.to_hex()), Some(seed));
        assert!(Seed::from_hex("zz").is_none());
    }
}
