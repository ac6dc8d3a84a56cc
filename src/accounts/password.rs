//! Argon2id password hashing, off the async runtime: one hash costs tens of milliseconds
//! of CPU and would otherwise stall every connection on the worker thread.

use crate::domain::Password;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;
use tokio::sync::Semaphore;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("argon2 parameters")]
    Params(argon2::Error),
    #[error("argon2")]
    Hash(argon2::password_hash::Error),
    #[error("the hashing task did not finish")]
    Task(#[from] tokio::task::JoinError),
}

/// Hashes and checks passwords, at most one at a time per core.
///
/// Each hash holds its Argon2 memory (19 MiB by default) for as long as it runs, and
/// registrations and logins arrive unthrottled from every address: unbounded, a burst
/// of them would take a blocking thread and 19 MiB each (tokio allows 512 such
/// threads). Beyond the cores, more at once finish no sooner; the rest wait their turn.
#[derive(Clone)]
pub struct Hasher {
    memory_kib: u32,
    turns: Arc<Semaphore>,
}

impl Hasher {
    pub fn new(memory_kib: u32) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Hasher { memory_kib, turns: Arc::new(Semaphore::new(cores)) }
    }

    pub async fn hash(&self, password: Password) -> Result<String, PasswordError> {
        self.hash_secret(password.expose().as_bytes().to_vec()).await
    }

    /// A hash of a fixed password, for timing-equal failure on unknown e-mails.
    pub async fn decoy(&self) -> Result<String, PasswordError> {
        self.hash_secret(b"decoy-password-never-matches".to_vec()).await
    }

    async fn hash_secret(&self, secret: Vec<u8>) -> Result<String, PasswordError> {
        let memory_kib = self.memory_kib;
        self.in_turn(move || {
            let params = Params::new(memory_kib, 2, 1, None).map_err(PasswordError::Params)?;
            let salt = SaltString::generate(&mut OsRng);
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password(&secret, &salt)
                .map(|h| h.to_string())
                .map_err(PasswordError::Hash)
        })
        .await
    }

    pub async fn verify(&self, password: Password, hash: String) -> Result<bool, PasswordError> {
        self.in_turn(move || {
            let parsed = PasswordHash::new(&hash).map_err(PasswordError::Hash)?;
            // The parameters stored in the hash decide the cost, not the current config.
            Ok(Argon2::default().verify_password(password.expose().as_bytes(), &parsed).is_ok())
        })
        .await
    }

    async fn in_turn<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, PasswordError> + Send + 'static,
    ) -> Result<T, PasswordError> {
        // The semaphore is never closed, so acquiring cannot fail.
        let turn = Arc::clone(&self.turns).acquire_owned().await.expect("the hashing semaphore is never closed");
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            work()
        })
        .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_hashes_run_at_once_than_there_are_cores() {
        let hasher = Hasher::new(8);
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let works = (0..cores * 4).map(|_| {
            let (hasher, running, most) = (hasher.clone(), Arc::clone(&running), Arc::clone(&most));
            tokio::spawn(async move {
                hasher
                    .in_turn(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                        Ok(())
                    })
                    .await
            })
        });
        for work in works.collect::<Vec<_>>() {
            work.await.unwrap().unwrap();
        }
        let most = most.load(Ordering::SeqCst);
        assert!(most <= cores, "{most} hashes ran at once on {cores} cores");
    }

    #[tokio::test]
    async fn a_hash_checks_its_own_password_only() {
        let hasher = Hasher::new(8);
        let hash = hasher.hash(Password::try_from("correct horse".to_string()).unwrap()).await.unwrap();
        assert!(hasher.verify(Password::try_from("correct horse".to_string()).unwrap(), hash.clone()).await.unwrap());
        assert!(!hasher.verify(Password::try_from("wrong horse!".to_string()).unwrap(), hash).await.unwrap());
    }
}
