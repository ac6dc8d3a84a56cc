//! Wall-clock time as Unix milliseconds: what we store, send and compare across nodes.

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(transparent)]
/// Unix time in milliseconds.
pub struct UnixMs(pub i64);

impl UnixMs {
    pub fn plus(self, d: Duration) -> UnixMs {
        UnixMs(self.0.saturating_add(d.as_millis() as i64))
    }
}

/// The source of "now" for domain logic. Production reads the system clock; tests of
/// expiry advance a manual clock instead of sleeping.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    pub fn system() -> Self {
        Self { manual: None }
    }

    pub fn manual(start: UnixMs) -> Self {
        Self { manual: Some(Arc::new(AtomicI64::new(start.0))) }
    }

    pub fn now(&self) -> UnixMs {
        match &self.manual {
            Some(t) => UnixMs(t.load(Ordering::Relaxed)),
            None => UnixMs(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)),
        }
    }

    /// Moves a manual clock forward; a system clock ignores it.
    pub fn advance(&self, d: Duration) {
        if let Some(t) = &self.manual {
            t.fetch_add(d.as_millis() as i64, Ordering::Relaxed);
        }
    }
}
