//! Group commit: one writer task per kind of write gathers the jobs that arrive while
//! its previous batch commits and writes them all in one go.
//!
//! Every transaction pays its commit (on SQLite, a turn at the database's one write lock
//! and a write of the log's pages, whatever the rows), so at a hot sale the commits, not
//! the rows, were the work. Callers still get one outcome each: the batch function
//! returns one result per job, in order, and decides itself what a failed batch means
//! for each (usually: write each job again alone).

use std::future::Future;
use tokio::sync::{mpsc, oneshot};

type Reply<O> = oneshot::Sender<Result<O, sqlx::Error>>;

/// The handle callers queue their jobs through; cheap to clone. The writer task ends once
/// every handle is dropped.
pub(super) struct GroupCommit<J, O> {
    queue: mpsc::Sender<(J, Reply<O>)>,
}

impl<J, O> Clone for GroupCommit<J, O> {
    fn clone(&self) -> Self {
        GroupCommit { queue: self.queue.clone() }
    }
}

impl<J: Send + 'static, O: Send + 'static> GroupCommit<J, O> {
    /// Starts the writer on the current runtime. `write` gets at most `max_batch` jobs and
    /// must return one outcome per job, in their order. At most four batches' worth of
    /// jobs wait (a full queue makes callers wait); `batch_size` names the histogram of
    /// the batches' sizes.
    pub(super) fn start<W, F>(batch_size: &'static str, max_batch: usize, write: W) -> GroupCommit<J, O>
    where
        W: Fn(Vec<J>) -> F + Send + 'static,
        F: Future<Output = Vec<Result<O, sqlx::Error>>> + Send,
    {
        let (queue, mut jobs) = mpsc::channel::<(J, Reply<O>)>(4 * max_batch);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(max_batch);
            while jobs.recv_many(&mut batch, max_batch).await > 0 {
                let (work, replies): (Vec<J>, Vec<Reply<O>>) = batch.drain(..).unzip();
                metrics::histogram!(batch_size).record(work.len() as f64);
                let outcomes = write(work).await;
                debug_assert_eq!(outcomes.len(), replies.len(), "one outcome per job");
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    // A caller that gave up finds what was written when it reads again.
                    let _ = reply.send(outcome);
                }
            }
        });
        GroupCommit { queue }
    }

    /// Queues `job` and waits for its batch's outcome for it.
    pub(super) async fn submit(&self, job: J) -> Result<O, sqlx::Error> {
        let (reply, outcome) = oneshot::channel();
        self.queue.send((job, reply)).await.map_err(|_| sqlx::Error::WorkerCrashed)?;
        outcome.await.map_err(|_| sqlx::Error::WorkerCrashed)?
    }
}

/// One outcome per job from `write`, which writes a batch all or nothing: the whole batch
/// at once, or, when that fails, each job alone, so one bad job (or a deadlock between
/// two nodes' batches) fails only its own caller. A batch that could not reach the
/// database (no connection in time, the pool closed) fails every job at once:
/// trying each alone would wait for a connection once per job, holding up every batch
/// queued behind for as many times the pool's timeout. `what` names the jobs in the log.
pub(super) async fn together_or_alone<'a, J, O, W, F>(
    jobs: &'a [J],
    what: &str,
    write: W,
) -> Vec<Result<O, sqlx::Error>>
where
    W: Fn(&'a [J]) -> F,
    F: Future<Output = Result<Vec<O>, sqlx::Error>>,
{
    match write(jobs).await {
        Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
        Err(e) if jobs.len() == 1 => vec![Err(e)],
        Err(e) => {
            let e = match each_unreached(e, jobs.len()) {
                Ok(each) => return each,
                Err(e) => e,
            };
            tracing::warn!(
                error = &e as &dyn std::error::Error,
                jobs = jobs.len(),
                "{what} batch failed; writing each alone"
            );
            let mut each = Vec::with_capacity(jobs.len());
            for job in jobs {
                each.push(
                    write(std::slice::from_ref(job)).await.and_then(|mut o| o.pop().ok_or(sqlx::Error::RowNotFound)),
                );
            }
            each
        }
    }
}

/// Every one of `n` jobs' outcome when `e` is a failure to reach the database (no
/// connection in time, the pool closed): `e` itself for the first, copies for the
/// others, so none is tried again alone; `e` back when it may be one job's.
pub(super) fn each_unreached<O>(e: sqlx::Error, n: usize) -> Result<Vec<Result<O, sqlx::Error>>, sqlx::Error> {
    if unreached(&e).is_none() {
        return Err(e);
    }
    let mut each: Vec<_> = (1..n).filter_map(|_| unreached(&e)).map(Err).collect();
    each.insert(0, Err(e));
    Ok(each)
}

/// A copy of `e` when it is a failure to reach the database rather than any one job's
/// (`sqlx::Error` cannot be cloned); none otherwise. Only failures before anything was
/// sent count: a connection lost mid-batch may have lost the answer to a commit that
/// happened, which each job's own attempt then finds.
fn unreached(e: &sqlx::Error) -> Option<sqlx::Error> {
    Some(match e {
        sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
        sqlx::Error::PoolClosed => sqlx::Error::PoolClosed,
        sqlx::Error::WorkerCrashed => sqlx::Error::WorkerCrashed,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::together_or_alone;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Writes `jobs` with `fail` as every attempt's error; how many attempts were made.
    async fn attempts(jobs: &[u32], fail: fn() -> sqlx::Error) -> (usize, Vec<Result<u32, sqlx::Error>>) {
        let tries = AtomicUsize::new(0);
        let outcomes = together_or_alone(jobs, "test", |_| {
            tries.fetch_add(1, Ordering::Relaxed);
            async move { Err::<Vec<u32>, _>(fail()) }
        })
        .await;
        (tries.into_inner(), outcomes)
    }

    #[tokio::test]
    async fn a_batch_that_cannot_reach_the_database_fails_every_job_at_once() {
        let (tries, outcomes) = attempts(&[1, 2, 3], || sqlx::Error::PoolTimedOut).await;
        assert_eq!(tries, 1, "no job is tried alone");
        assert!(outcomes.iter().all(|o| matches!(o, Err(sqlx::Error::PoolTimedOut))), "{outcomes:?}");
    }

    #[tokio::test]
    async fn a_batch_that_fails_for_one_of_its_jobs_tries_each_alone() {
        let (tries, outcomes) = attempts(&[1, 2, 3], || sqlx::Error::RowNotFound).await;
        assert_eq!(tries, 4, "the batch, then each job");
        assert_eq!(outcomes.len(), 3);
    }
}
