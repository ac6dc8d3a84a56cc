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
/// two nodes' batches) fails only its own caller. `what` names the jobs in the log.
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
