//! Argon2id password hashing, off the async runtime: one hash costs tens of milliseconds
//! of CPU and would otherwise stall every connection on the worker thread.

use crate::domain::Password;
use crate::error::{AppError, AppResult};
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

fn argon2(memory_kib: u32) -> AppResult<Argon2<'static>> {
    let params = Params::new(memory_kib, 2, 1, None).map_err(|e| AppError::Internal(format!("argon2 params: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

pub async fn hash(password: Password, memory_kib: u32) -> AppResult<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2(memory_kib)?
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(format!("argon2 hash: {e}")))
    })
    .await
    .map_err(|e| AppError::Internal(format!("hash task: {e}")))?
}

pub async fn verify(password: Password, hash: String) -> AppResult<bool> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash).map_err(|e| AppError::Internal(format!("stored hash: {e}")))?;
        // The parameters stored in the hash decide the cost, not the current config.
        Ok(Argon2::default().verify_password(password.expose().as_bytes(), &parsed).is_ok())
    })
    .await
    .map_err(|e| AppError::Internal(format!("verify task: {e}")))?
}

/// A hash of a random password, for timing-equal failure on unknown e-mails.
pub async fn decoy_hash(memory_kib: u32) -> AppResult<String> {
    let decoy =
        Password::try_from("decoy-password-never-matches".to_owned()).map_err(|e| AppError::Internal(e.to_string()))?;
    hash(decoy, memory_kib).await
}
