//! Copying SQLite's log back into the database beside the writers, not inside one.
//!
//! In WAL mode the commit that takes the log past `wal_autocheckpoint` pages copies the
//! log back into the database before it returns, and syncs the log first. At a busy sale
//! that writer held the write turn through the sync of everything written since the last
//! checkpoint (123 ms for about 30 MB, `strace`), and every checkout waited behind it.
//! A passive checkpoint here, every [`EVERY`], on a pooled connection and outside the
//! write turn, copies and syncs the log as it grows, so the commit that crosses the mark
//! copies and syncs only what came since. Passive: it never waits for a writer or a
//! reader, and none waits for it.
//!
//! The mark stays: with writers appending meanwhile this checkpoint never reaches the
//! log's end, and only a checkpoint that does lets the next writer start the log over.
//! Once, a task like this one replaced the mark, and the log grew to 1.2 GB in 10 s; with
//! both, it stays at the mark's 32 MB (15 s at 50 buyers, as without the task).

use sqlx::AnyPool;
use std::time::Duration;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::{CancellationToken, DropGuard};

/// How much writing the commit that crosses the mark may find not yet copied. At a
/// checkout of 50 buyers (alternated runs): checkout p99 59–60 ms at 100 ms, 77–88 ms at
/// 250 ms, 106–124 ms with no background checkpoint; orders/s alike.
const EVERY: Duration = Duration::from_millis(100);

/// Starts the checkpointer; it stops when the returned guard is dropped or the pool closes.
pub(super) fn start(pool: AnyPool) -> DropGuard {
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(EVERY);
        every.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stopped.cancelled() => return,
                _ = every.tick() => {}
            }
            if pool.is_closed() {
                return;
            }
            if let Err(e) = sqlx::query("pragma wal_checkpoint(passive)").execute(&pool).await {
                tracing::debug!(error = %e, "background checkpoint");
            }
        }
    });
    stop.drop_guard()
}

#[cfg(test)]
mod tests {
    use crate::store::Store;
    use sqlx::{AnyConnection, Connection, Row};
    use std::time::Duration;

    /// A write far below the autocheckpoint mark reaches the database file itself, not
    /// only the log, with no writer crossing the mark: opened `immutable`, SQLite reads
    /// the file and ignores the log.
    #[tokio::test]
    async fn the_log_reaches_the_database_file_without_a_writer_crossing_the_mark() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let store = Store::connect(&format!("sqlite://{}?mode=rwc", path.display()), 2).await.unwrap();
        sqlx::query("create table copied (x integer)").execute(&store.pool).await.unwrap();
        sqlx::query("insert into copied (x) values (7)").execute(&store.pool).await.unwrap();
        let file_alone = format!("sqlite://{}?mode=ro&immutable=true", path.display());
        let copied = async {
            loop {
                // Read while a checkpoint may be writing the file: a failed read is tried again.
                let read = async {
                    let mut conn = AnyConnection::connect(&file_alone).await?;
                    sqlx::query("select x from copied").fetch_optional(&mut conn).await
                };
                if let Ok(Some(row)) = read.await {
                    return row.try_get::<i64, _>("x").unwrap();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        // A bound, not a timing: the checkpointer runs ten times a second.
        let x = tokio::time::timeout(Duration::from_secs(30), copied).await.expect("the row reached the file");
        assert_eq!(x, 7);
    }
}
