//! Group commit: concurrent publishes share one transaction.
//!
//! Each publish used to commit a transaction of its own: five round trips from BEGIN to
//! COMMIT, and a commit that waits for the WAL to reach the disk (which PostgreSQL shares
//! among concurrent commits, but not their statements or the work of each transaction). Here
//! a committer task (one per outbox) takes every message that queued while the previous
//! commit was in flight, up to [`MAX_BATCH`], writes them in one transaction, and answers each
//! caller after that commit, with its own result. A lone publish is written at once: nothing
//! ever waits to fill a batch.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Notify};
use tracing::Instrument;

use super::clock::now_ms;
use super::publish::{Audience, NewMessage};
use super::store::Backend;
use super::OutboxError;

/// The most messages one commit takes: enough to carry any realistic number of concurrent
/// publishers, small enough that a batch's statements stay short.
pub(crate) const MAX_BATCH: usize = 256;

/// Where publishes queue for the committer. The committer ends when the last clone (held by
/// the outbox's clones) is dropped.
#[derive(Clone)]
pub(crate) struct GroupCommit {
    /// `None` when the outbox was opened outside a Tokio runtime (or for
    /// `Outbox::without_group_commit`): each publish commits alone.
    queue: Option<mpsc::UnboundedSender<Queued>>,
}

/// A message waiting for the committer, owning what [`NewMessage`] borrows.
struct Queued {
    message: Detached,
    value: serde_json::Value,
    reply: oneshot::Sender<Result<usize, OutboxError>>,
}

/// A [`NewMessage`] without its borrows.
pub(crate) struct Detached {
    id: String,
    event: &'static str,
    method: &'static str,
    payload: String,
    /// The tenant, or `None` for a broadcast.
    tenant: Option<String>,
}

impl From<NewMessage<'_>> for Detached {
    fn from(m: NewMessage<'_>) -> Detached {
        Detached {
            id: m.id,
            event: m.event,
            method: m.method,
            payload: m.payload,
            tenant: m.audience.tenant().map(str::to_owned),
        }
    }
}

impl Queued {
    /// The message to write, stamped `now`: when its batch is written, rather than when it
    /// was queued, since a dispatcher looks for new deliveries from a little before its last
    /// claim.
    fn message(&self, now: i64) -> NewMessage<'_> {
        let m = &self.message;
        NewMessage {
            id: m.id.clone(),
            event: m.event,
            method: m.method,
            payload: m.payload.clone(),
            value: &self.value,
            now,
            audience: m
                .tenant
                .as_deref()
                .map_or(Audience::Everyone, Audience::Tenant),
        }
    }
}

impl GroupCommit {
    /// No committer: each publish commits alone.
    pub(crate) fn off() -> GroupCommit {
        GroupCommit { queue: None }
    }

    /// Starts the committer of `store` on the current Tokio runtime, if there is one.
    pub(crate) fn start(store: Backend, published: Arc<Notify>) -> GroupCommit {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return GroupCommit::off();
        };
        let (queue, queued) = mpsc::unbounded_channel();
        runtime.spawn(commit_queued(store, published, queued));
        GroupCommit { queue: Some(queue) }
    }

    /// Stores `message` (whose filter value is `value`) with its deliveries, committed with
    /// whatever else queued meanwhile, and returns how many deliveries it got once committed.
    /// The queue is unbounded, but each caller waits for its answer, so it holds at most one
    /// message per concurrent publish.
    pub(crate) async fn publish(
        &self,
        store: &Backend,
        published: &Notify,
        message: Detached,
        value: serde_json::Value,
    ) -> Result<usize, OutboxError> {
        let (reply, answer) = oneshot::channel();
        let queued = Queued {
            message,
            value,
            reply,
        };
        let Some(queue) = &self.queue else {
            return commit_alone(store, published, &queued).await;
        };
        match queue.send(queued) {
            // The committer dropping the answer unsent means it died (its runtime ended, or
            // it panicked): whether the message was committed is unknown.
            Ok(()) => answer
                .await
                .unwrap_or(Err(OutboxError::Database(sqlx::Error::WorkerCrashed))),
            // The committer's runtime has ended (the outbox outlived it): commit here.
            Err(mpsc::error::SendError(queued)) => commit_alone(store, published, &queued).await,
        }
    }
}

/// Stores one message in a transaction of its own, as every publish did before group commit.
async fn commit_alone(
    store: &Backend,
    published: &Notify,
    queued: &Queued,
) -> Result<usize, OutboxError> {
    let deliveries = store
        .publish_batch(None, &[queued.message(now_ms())])
        .await?;
    published.notify_waiters();
    Ok(deliveries[0])
}

/// The committer: until every sender is gone, takes what has queued (at least one message)
/// and commits it together. One batch at a time: with several in flight (tried with four on
/// PostgreSQL), batches were smaller and end-to-end throughput 10-15 % lower.
async fn commit_queued(
    store: Backend,
    published: Arc<Notify>,
    mut queue: mpsc::UnboundedReceiver<Queued>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // A caller that gave up (its future dropped) before the write began is not stored,
        // as it would not have been when each publish had its own transaction.
        batch.retain(|queued: &Queued| !queued.reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        let span = tracing::debug_span!("webhook.group_commit", messages = batch.len());
        commit_batch(&store, &published, std::mem::take(&mut batch))
            .instrument(span)
            .await;
    }
}

/// Commits `batch` in one transaction and answers its callers. If that fails, each message
/// is committed alone, all at once and apart from the committer: a message the database
/// refuses fails only its own publish, and a database that is unreachable fails each within
/// one timeout of its own, as when every publish had its own transaction, rather than one
/// after another while later publishes wait.
async fn commit_batch(store: &Backend, published: &Arc<Notify>, batch: Vec<Queued>) {
    let now = now_ms();
    let together = {
        let messages: Vec<NewMessage<'_>> = batch.iter().map(|q| q.message(now)).collect();
        store.publish_batch(None, &messages).await
    };
    match together {
        Ok(deliveries) => {
            published.notify_waiters();
            for (queued, deliveries) in batch.into_iter().zip(deliveries) {
                // A caller that stopped waiting meanwhile misses its answer; the others do not.
                let _ = queued.reply.send(Ok(deliveries));
            }
        }
        Err(error) if batch.len() == 1 => {
            if let Some(queued) = batch.into_iter().next() {
                let _ = queued.reply.send(Err(error));
            }
        }
        Err(_) => {
            for queued in batch {
                let (store, published) = (store.clone(), Arc::clone(published));
                tokio::spawn(async move {
                    let outcome = commit_alone(&store, &published, &queued).await;
                    let _ = queued.reply.send(outcome);
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::sync::mpsc;

    use super::commit_queued;
    use crate::delivery::store::Backend;

    #[tokio::test]
    async fn the_committer_ends_when_the_last_sender_is_dropped() {
        let store = Backend::sqlite("sqlite::memory:").await.unwrap();
        let (queue, queued) = mpsc::unbounded_channel();
        let committer = tokio::spawn(commit_queued(store, Arc::default(), queued));
        let clone = queue.clone();
        drop(queue);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!committer.is_finished(), "a clone still holds the queue");
        drop(clone);
        tokio::time::timeout(Duration::from_secs(5), committer)
            .await
            .expect("the committer ended")
            .unwrap();
    }
}
