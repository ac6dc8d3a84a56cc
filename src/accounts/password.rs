//! Argon2id password hashing, off the async runtime: one hash costs tens of milliseconds
//! of CPU and would otherwise stall every connection on the worker thread.

use crate::domain::Password;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("argon2 parameters")]
    Params(argon2::Error),
    #[error("argon2")]
    Hash(argon2::password_hash::Error),
    #[error("the hashing task did not finish")]
    Task(#[from] tokio::task::JoinError),
}

fn argon2(memory_kib: u32) -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(memory_kib, 2, 1, None).map_err(PasswordError::Params)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

pub async fn hash(password: Password, memory_kib: u32) -> Result<String, PasswordError> {
    hash_secret(password.expose().as_bytes().to_vec(), memory_kib).await
}

async fn hash_secret(secret: Vec<u8>, memory_kib: u32) -> Result<String, PasswordError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2(memory_kib)?.hash_password(&secret, &salt).map(|h| h.to_string()).map_err(PasswordError::Hash)
    })
    .await?
}

pub async fn verify(password: Password, hash: String) -> Result<bool, PasswordError> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash).map_err(PasswordError::Hash)?;
        // The parameters stored in the hash decide the cost, not the current config.
        Ok(Argon2::default().verify_password(password.expose().as_bytes(), &parsed).is_ok())
    })
    .await?
}

/// A hash of a fixed password, for timing-equal failure on unknown e-mails.
pub async fn decoy_hash(memory_kib: u32) -> Result<String, PasswordError> {
    hash_secret(b"decoy-password-never-matches".to_vec(), memory_kib).await
}
