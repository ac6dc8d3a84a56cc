//! Accounts and sessions: registration, login with argon2 password hashes, and opaque
//! bearer tokens stored only as their SHA-256, so a leaked database holds no usable token.

mod password;

use crate::app::AppState;
use crate::domain::{DisplayName, Email, Password, Role};
use crate::error::{AppError, AppResult};
use crate::store::{AccountRow, is_unique_violation};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

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

pub async fn register(state: &AppState, r: Registration) -> AppResult<Session> {
    let brand = match (r.role, &r.brand_name) {
        (Role::Admin, _) => {
            return Err(AppError::Forbidden("admin accounts are created by an operator"));
        }
        (Role::Brand, None) => {
            return Err(AppError::BadRequest("brand_name: a brand member registers a brand".into()));
        }
        (Role::Brand, Some(name)) => Some(name.as_str()),
        (_, Some(_)) => {
            return Err(AppError::BadRequest("brand_name: only brand members register a brand".into()));
        }
        (_, None) => None,
    };
    let hash = password::hash(r.password, state.config.argon2_kib).await?;
    let created = state
        .store
        .create_account(r.email.as_str(), &hash, r.display_name.as_str(), r.role, brand, state.clock.now())
        .await;
    let account = match created {
        Ok(account) => account,
        Err(e) if is_unique_violation(&e) => {
            return Err(AppError::Conflict("that e-mail address or brand name is already registered"));
        }
        Err(e) => return Err(e.into()),
    };
    open_session(state, account).await
}

pub async fn login(state: &AppState, email: Email, password: Password) -> AppResult<Session> {
    let found = state.store.account_by_email(email.as_str()).await?;
    // Verify against a real hash even for an unknown e-mail, so response time does not
    // reveal which addresses have accounts.
    let (account, hash) = match found {
        Some((account, hash)) => (Some(account), hash),
        None => (None, password::decoy_hash(state.config.argon2_kib).await?),
    };
    let valid = password::verify(password, hash).await?;
    match account {
        Some(account) if valid => open_session(state, account).await,
        _ => Err(AppError::BadCredentials),
    }
}

/// Creates a session for an account known to be genuine (after a login, or by the seeder).
pub async fn open_session(state: &AppState, account: AccountRow) -> AppResult<Session> {
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let token = URL_SAFE_NO_PAD.encode(raw);
    let now = state.clock.now();
    state.store.create_session(&token_hash(&token), account.id, now, now.plus(state.config.session_ttl)).await?;
    Ok(Session { token, account })
}

pub async fn logout(state: &AppState, token: &str) -> AppResult<()> {
    state.store.revoke_session(&token_hash(token), state.clock.now()).await?;
    Ok(())
}

/// The account behind a bearer token, if the session is live.
pub async fn authenticate(state: &AppState, token: &str) -> AppResult<AccountRow> {
    if token.is_empty() || token.len() > 128 {
        return Err(AppError::Unauthenticated);
    }
    state.store.session_account(&token_hash(token), state.clock.now()).await?.ok_or(AppError::Unauthenticated)
}

fn token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}
