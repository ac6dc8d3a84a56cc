//! The STUN and TURN servers clients are given before they publish or watch, with TURN
//! credentials that expire: the TURN REST scheme (draft-uberti-behave-turn-rest, what
//! coturn's `use-auth-secret` checks). The username is `expiry:user`, `expiry` in Unix
//! seconds; the credential is base64(HMAC-SHA1(shared secret, username)). The TURN server
//! recomputes it from the same secret and refuses it once `expiry` has passed, so no
//! password is ever stored, and none is given to a page for longer than the lifetime.
//! (coturn checks them when a relay is allocated; a relay in use outlives them.)

use crate::domain::{AccountId, Clock, UnixMs};
use crate::wire::api::{IceConfig, IceServer};
use base64::Engine;
use hmac::{Hmac, Mac};
use std::time::Duration;

/// What the configuration says clients get (`LIVECART_ICE_SERVERS`,
/// `LIVECART_TURN_SECRET`, `LIVECART_TURN_TTL_SECS`), checked by the configuration.
#[derive(Clone)]
pub struct ClientIceSettings {
    /// `stun:`, `turn:` and `turns:` URLs.
    pub urls: Vec<String>,
    /// The secret shared with the TURN server; required when a URL is a TURN one.
    pub turn_secret: Option<String>,
    /// How long each client's credentials may start a relay.
    pub turn_ttl: Duration,
}

impl std::fmt::Debug for ClientIceSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientIceSettings")
            .field("urls", &self.urls)
            .field("turn_secret", &self.turn_secret.as_ref().map(|_| "…"))
            .field("turn_ttl", &self.turn_ttl)
            .finish()
    }
}

/// Who asks for credentials: the TURN server logs (and may give quotas per) the user part.
#[derive(Debug, Clone, Copy)]
pub enum IceUser {
    Account(AccountId),
    Guest,
}

/// Issues each client its ICE servers.
pub struct ClientIce {
    stun: Vec<String>,
    turn: Vec<String>,
    secret: Option<Vec<u8>>,
    ttl: Duration,
    clock: Clock,
}

impl ClientIce {
    pub fn new(settings: ClientIceSettings, clock: Clock) -> Self {
        let is_turn = |url: &String| {
            let scheme = url.split(':').next().unwrap_or_default().to_ascii_lowercase();
            scheme == "turn" || scheme == "turns"
        };
        let (turn, stun) = settings.urls.into_iter().partition(is_turn);
        ClientIce {
            stun,
            turn,
            secret: settings.turn_secret.filter(|s| !s.is_empty()).map(String::into_bytes),
            ttl: settings.turn_ttl,
            clock,
        }
    }

    /// The servers for one client: STUN as they are, TURN with credentials that expire
    /// `ttl` from now. Without a secret, TURN servers are left out (a relay that refuses
    /// every client would only slow its gathering down).
    pub fn for_client(&self, user: IceUser) -> IceConfig {
        let mut ice_servers = Vec::new();
        if !self.stun.is_empty() {
            ice_servers.push(IceServer { urls: self.stun.clone(), username: None, credential: None });
        }
        let mut expires_at = None;
        if let (false, Some(secret)) = (self.turn.is_empty(), &self.secret) {
            let expiry = self.clock.now().plus(self.ttl);
            let name = match user {
                IceUser::Account(id) => id.to_string(),
                // Not a stable identity: a guest's credentials cannot be told from
                // another guest's, and need not be.
                IceUser::Guest => format!("guest-{:08x}", rand::random::<u32>()),
            };
            let username = format!("{}:{name}", expiry.0.div_euclid(1000));
            let credential = turn_credential(secret, &username);
            ice_servers.push(IceServer {
                urls: self.turn.clone(),
                username: Some(username),
                credential: Some(credential),
            });
            expires_at = Some(UnixMs(expiry.0.div_euclid(1000) * 1000));
        }
        IceConfig { ice_servers, expires_at }
    }
}

/// base64(HMAC-SHA1(secret, username)): the password a TURN server with the same shared
/// secret expects for `username`.
pub fn turn_credential(secret: &[u8], username: &str) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(urls: &[&str], secret: Option<&str>) -> ClientIceSettings {
        ClientIceSettings {
            urls: urls.iter().map(|u| (*u).to_owned()).collect(),
            turn_secret: secret.map(str::to_owned),
            turn_ttl: Duration::from_secs(600),
        }
    }

    #[test]
    fn the_credential_is_what_coturn_computes() {
        // printf '%s' '1796040149:alice' | openssl dgst -sha1 -hmac livecart-turn-secret -binary | base64
        assert_eq!(turn_credential(b"livecart-turn-secret", "1796040149:alice"), "cioGDM4LmWxax7N9uu6IrYoAOSU=");
    }

    #[test]
    fn turn_servers_get_credentials_that_expire_and_stun_servers_none() {
        let clock = Clock::manual(UnixMs(1_700_000_000_500));
        let ice = ClientIce::new(
            settings(&["stun:stun.example:3478", "turn:turn.example:3478", "turns:turn.example:443"], Some("s3cret")),
            clock,
        );
        let config = ice.for_client(IceUser::Account(AccountId::from_row(42)));
        assert_eq!(config.ice_servers.len(), 2);
        assert_eq!(
            config.ice_servers[0],
            IceServer { urls: vec!["stun:stun.example:3478".into()], username: None, credential: None }
        );
        let turn = &config.ice_servers[1];
        assert_eq!(turn.urls, ["turn:turn.example:3478", "turns:turn.example:443"]);
        assert_eq!(turn.username.as_deref(), Some("1700000600:42"));
        assert_eq!(turn.credential, Some(turn_credential(b"s3cret", "1700000600:42")));
        assert_eq!(config.expires_at, Some(UnixMs(1_700_000_600_000)));

        let guest = ice.for_client(IceUser::Guest);
        let name = guest.ice_servers[1].username.clone().unwrap();
        assert!(name.starts_with("1700000600:guest-"), "{name}");
    }

    #[test]
    fn without_a_secret_only_stun_is_given() {
        let ice = ClientIce::new(settings(&["stun:stun.example"], None), Clock::system());
        let config = ice.for_client(IceUser::Guest);
        assert_eq!(config.ice_servers.len(), 1);
        assert!(config.expires_at.is_none());
        let none = ClientIce::new(settings(&[], None), Clock::system()).for_client(IceUser::Guest);
        assert!(none.ice_servers.is_empty());
    }
}
