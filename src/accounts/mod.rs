//! Accounts and sessions: registration, login with argon2 password hashes, and opaque
//! bearer tokens stored only as their SHA-256, so a leaked database holds no usable token.
//! Creators are accounts too: their public card and follower counts live here.

mod password;

use crate::bus::backoff::Rule;
use crate::bus::kicks::{Target, Watch};
use crate::bus::{Backoffs, Bus, BusError, Kicks};
use crate::domain::{AccountId, Clock, DisplayName, Email, Invalid, Password, Refusal, Role, Stock, Tier, list_limit};
use crate::store::{AccountRow, Store, StoreError, is_unique_violation};
use crate::telemetry::Causes;
use crate::wire::ws::HostCard;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use password::Hasher;
pub use password::PasswordError;

/// Live sessions one account keeps (devices and browsers signed in at once): logins
/// are not throttled once they succeed, so without a cap each would add a row for the
/// session's whole lifetime.
pub const SESSIONS_PER_ACCOUNT: usize = 20;

/// Creators one list answer holds at most (registration is open, so all of them would
/// grow without bound).
const CREATORS_LISTED: u32 = 100;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("sign in first: this needs a valid session token")]
    Unauthenticated,
    #[error("wrong e-mail or password")]
    BadCredentials,
    /// Too many failed logins from here: the next attempt must wait this long.
    #[error("too many failed sign-ins: try again in {} seconds", .0.as_secs().max(1))]
    Throttled(Duration),
    #[error("login back-off")]
    Backoff(#[from] BusError),
    #[error("password hashing")]
    Password(#[from] PasswordError),
    #[error("database")]
    Store(#[from] StoreError),
}

impl From<Invalid> for AccountError {
    fn from(e: Invalid) -> Self {
        AccountError::Refused(e.into())
    }
}

pub struct Registration {
    pub email: Email,
    pub password: Password,
    pub display_name: DisplayName,
    pub role: Role,
    /// Required for a brand member: the brand they register.
    pub brand_name: Option<DisplayName>,
}

pub struct Session {
    pub token: String,
    pub account: AccountRow,
}

/// A live session, as a request or a connection presents it.
pub struct Authenticated {
    pub account: AccountRow,
    /// The session's name where it is stored (the token's hash): what a logout kicks.
    pub session: String,
    /// How long the session has left.
    pub remaining: Duration,
}

/// A creator as everyone may see them, with their reach bracket.
pub fn host_card(host: &AccountRow) -> HostCard {
    HostCard {
        id: host.id,
        display_name: host.display_name.clone(),
        followers: host.follower_count,
        tier: Tier::for_followers(host.follower_count),
    }
}

/// Failed logins for one account from one address: a person mistyping gets a few
/// tries, then waits that double from one second up to fifteen minutes.
const ACCOUNT_FROM_ADDRESS: Rule = Rule {
    free: 5,
    base: Duration::from_secs(1),
    cap: Duration::from_secs(900),
    forget_after: Duration::from_secs(3_600),
};
/// Failed logins from one address, whatever the account: room for a household or an
/// office behind one address, not for a credential-stuffing run.
const ADDRESS: Rule = Rule {
    free: 30,
    base: Duration::from_secs(1),
    cap: Duration::from_secs(900),
    forget_after: Duration::from_secs(3_600),
};

/// The back-off keys of a login attempt: the account from this address first, then the
/// address. Without a known address, only the account's key (shared by every address).
fn throttle_keys(email: &Email, from: Option<IpAddr>) -> Vec<(String, Rule)> {
    let account = URL_SAFE_NO_PAD.encode(&Sha256::digest(email.as_str().as_bytes())[..12]);
    match from {
        Some(ip) => vec![(format!("login:{account}:{ip}"), ACCOUNT_FROM_ADDRESS), (format!("login:{ip}"), ADDRESS)],
        None => vec![(format!("login:{account}"), ACCOUNT_FROM_ADDRESS)],
    }
}

fn token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// The accounts service; cheap to clone.
#[derive(Clone)]
pub struct Accounts {
    store: Store,
    /// How a logout reaches the session's open connections, on every node.
    kicks: Arc<dyn Kicks>,
    /// Failed logins, counted on every node.
    backoffs: Arc<dyn Backoffs>,
    clock: Clock,
    /// Hashes new passwords with the configured Argon2 memory cost and checks logins.
    hasher: Hasher,
    session_ttl: Duration,
}

impl Accounts {
    pub fn new(store: Store, bus: &Bus, clock: Clock, argon2_kib: u32, session_ttl: Duration) -> Self {
        let (kicks, backoffs) = (Arc::clone(&bus.kicks), Arc::clone(&bus.backoffs));
        Accounts { store, kicks, backoffs, clock, hasher: Hasher::new(argon2_kib), session_ttl }
    }

    pub async fn register(&self, r: Registration) -> Result<Session, AccountError> {
        let brand = match (r.role, &r.brand_name) {
            (Role::Admin, _) => return Err(Refusal::Forbidden("admin accounts are created by an operator").into()),
            (Role::Brand, None) => return Err(Invalid::new("brand_name", "a brand member registers a brand").into()),
            (Role::Brand, Some(name)) => Some(name.as_str()),
            (_, Some(_)) => return Err(Invalid::new("brand_name", "only brand members register a brand").into()),
            (_, None) => None,
        };
        let hash = self.hasher.hash(r.password).await?;
        let created = self
            .store
            .create_account(r.email.as_str(), &hash, r.display_name.as_str(), r.role, brand, self.clock.now())
            .await;
        let account = match created {
            Ok(account) => account,
            Err(e) if is_unique_violation(&e) => {
                return Err(Refusal::Conflict("that e-mail address or brand name is already registered").into());
            }
            Err(e) => return Err(e.into()),
        };
        self.open_session(account).await
    }

    /// Signs in, unless failed attempts from this address (for this account, or for any)
    /// must wait: each failure past a few doubles the wait, so guessing is slow, while
    /// the account's owner, trying from their own address, is not locked out by an
    /// attacker's failures elsewhere.
    pub async fn login(&self, email: Email, password: Password, from: Option<IpAddr>) -> Result<Session, AccountError> {
        let keys = throttle_keys(&email, from);
        let now = self.clock.now();
        let mut wait = None;
        for (key, rule) in &keys {
            wait = wait.max(self.backoffs.wait(key, *rule, now).await?);
        }
        if let Some(wait) = wait {
            return Err(AccountError::Throttled(wait));
        }
        let session = self.check_password(email, password).await;
        match &session {
            Err(AccountError::BadCredentials) => {
                for (key, rule) in &keys {
                    self.backoffs.failed(key, *rule, now).await?;
                }
            }
            Ok(_) => self.backoffs.forget(&keys[0].0).await?,
            Err(_) => {}
        }
        session
    }

    async fn check_password(&self, email: Email, password: Password) -> Result<Session, AccountError> {
        let found = self.store.account_by_email(email.as_str()).await?;
        // Verify against a real hash even for an unknown e-mail, so response time does not
        // reveal which addresses have accounts.
        let (account, hash) = match found {
            Some((account, hash)) => (Some(account), hash),
            None => (None, self.hasher.decoy().await?),
        };
        let valid = self.hasher.verify(password, hash).await?;
        match account {
            Some(account) if valid => self.open_session(account).await,
            _ => Err(AccountError::BadCredentials),
        }
    }

    /// Creates a session for an account known to be genuine (after a login, or by the
    /// seeder). The account keeps at most [`SESSIONS_PER_ACCOUNT`] live sessions: the
    /// oldest beyond them end, as at a logout, and ended ones are forgotten.
    pub async fn open_session(&self, account: AccountRow) -> Result<Session, AccountError> {
        let mut raw = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut raw);
        let token = URL_SAFE_NO_PAD.encode(raw);
        let now = self.clock.now();
        self.store.create_session(&token_hash(&token), account.id, now, now.plus(self.session_ttl)).await?;
        for session in self.store.retire_sessions(account.id, SESSIONS_PER_ACCOUNT, now).await? {
            self.close_connections(session).await;
        }
        Ok(Session { token, account })
    }

    /// Revokes the session, and closes every connection opened with it, on every node.
    pub async fn logout(&self, token: &str) -> Result<(), AccountError> {
        let session = token_hash(token);
        self.store.revoke_session(&session, self.clock.now()).await?;
        self.close_connections(session).await;
        Ok(())
    }

    /// Closes the connections opened with an ended session, on every node.
    async fn close_connections(&self, session: String) {
        if let Err(e) = self.kicks.kick(&Target::Session(session)).await {
            // The session has ended: those connections cannot act any more either way.
            tracing::warn!(error = %Causes(&e), "a session's end not announced to its open connections");
        }
    }

    /// The account behind a bearer token, if the session is live.
    pub async fn authenticate(&self, token: &str) -> Result<Authenticated, AccountError> {
        if token.is_empty() || token.len() > 128 {
            return Err(AccountError::Unauthenticated);
        }
        let session = token_hash(token);
        let (account, expires_at) =
            self.store.session_account(&session, self.clock.now()).await?.ok_or(AccountError::Unauthenticated)?;
        let remaining = Duration::from_millis(expires_at.0.saturating_sub(self.clock.now().0).max(0) as u64);
        Ok(Authenticated { account, session, remaining })
    }

    /// Watches a session's connection on this node: cancelled when the session is revoked.
    pub fn watch(&self, session: &str) -> Watch {
        self.kicks.watch(vec![Target::Session(session.to_owned())])
    }

    /// The `limit` most followed creators (1 to 100, 100 by default), most followed first.
    pub async fn creators(&self, limit: Option<u32>) -> Result<Vec<HostCard>, AccountError> {
        let limit = list_limit(limit, CREATORS_LISTED, CREATORS_LISTED).map_err(Refusal::from)?;
        Ok(self.store.creators(limit).await?.iter().map(host_card).collect())
    }

    pub async fn creator(&self, id: AccountId) -> Result<HostCard, AccountError> {
        let creator = self.store.account(id).await?.filter(|a| a.role == Role::Creator);
        Ok(host_card(&creator.ok_or(Refusal::NotFound("creator"))?))
    }

    pub async fn set_followers(
        &self,
        who: &AccountRow,
        creator: AccountId,
        followers: Stock,
    ) -> Result<(), AccountError> {
        if who.role != Role::Admin {
            return Err(Refusal::Forbidden("only an admin can set follower counts").into());
        }
        if !self.store.set_followers(creator, followers.get()).await? {
            return Err(Refusal::NotFound("creator").into());
        }
        Ok(())
    }
}
