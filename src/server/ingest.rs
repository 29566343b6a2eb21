//! Group commit for webhook deliveries.
//!
//! Every acknowledged delivery must be committed first, and a commit costs a disk flush
//! (PostgreSQL: ~4 ms on this kind of virtual disk) or the SQLite write lock. Writer tasks
//! therefore take every delivery waiting at that moment and record them in one transaction
//! ([`Store::record_deliveries`]); while a batch commits, new deliveries queue up for the
//! next. Under light load a batch holds one delivery and nothing waits; under heavy load the
//! flush is shared by many. Each receiver still answers only after its own delivery's batch
//! committed.
//!
//! SQLite has one writer at a time anyway, so it gets one writer task (no lock contention,
//! no busy-waiting). PostgreSQL gets several, so the round trips of one batch overlap with
//! the next batch's; their advisory locks are taken in key order, so they cannot deadlock.
//!
//! [`Store::record_deliveries`]: crate::store::Store::record_deliveries

use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use crate::store::{NewEvent, Recorded, Store, StoreError};

/// The most deliveries one transaction takes.
pub const MAX_BATCH: usize = 64;

/// Writer tasks for PostgreSQL.
const PG_WRITERS: usize = 4;

/// How many deliveries may wait for the writer before receivers wait to hand theirs over.
const QUEUE: usize = 1024;

struct Job {
    event: NewEvent,
    reply: oneshot::Sender<Result<Recorded, String>>,
}

/// Why a delivery could not be recorded. The message is for the log; the client gets a 500.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct IngestError(String);

/// The writer's end of the queue and the store, until the writer task takes them.
type Unstarted = (mpsc::Receiver<Job>, Arc<dyn Store>);

/// The handle receivers use. The writer task starts with the first delivery, on the runtime
/// that serves it.
pub struct Ingest {
    sender: mpsc::Sender<Job>,
    /// Taken by the writer task when it starts.
    pending: Mutex<Option<Unstarted>>,
}

impl Ingest {
    pub fn new(store: Arc<dyn Store>) -> Ingest {
        let (sender, receiver) = mpsc::channel(QUEUE);
        Ingest {
            sender,
            pending: Mutex::new(Some((receiver, store))),
        }
    }

    /// Records `event` (batched with whatever else arrives meanwhile) and returns once its
    /// transaction committed.
    pub async fn record(&self, event: NewEvent) -> Result<Recorded, IngestError> {
        self.start_writer();
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Job { event, reply })
            .await
            .map_err(|_| IngestError("the delivery writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| IngestError("the delivery writer stopped before answering".into()))?
            .map_err(IngestError)
    }

    fn start_writer(&self) {
        let taken = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some((receiver, store)) = taken {
            let writers = if store.backend() == "postgres" {
                PG_WRITERS
            } else {
                1
            };
            let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
            for _ in 0..writers {
                tokio::spawn(write_batches(receiver.clone(), store.clone()));
            }
        }
    }
}

async fn write_batches(
    receiver: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>,
    store: Arc<dyn Store>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        // One writer collects at a time; it lets go before writing, so the next can collect.
        let received = receiver.lock().await.recv_many(&mut batch, MAX_BATCH).await;
        if received == 0 {
            break;
        }
        let (events, replies): (Vec<NewEvent>, Vec<_>) =
            batch.drain(..).map(|j| (j.event, j.reply)).unzip();
        let now = super::now();
        match store.record_deliveries(&events, now).await {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            // The whole batch rolled back. Try each on its own, so one delivery the database
            // refuses cannot fail the others.
            Err(e) if events.len() > 1 => {
                tracing::warn!(error = %e, deliveries = events.len(), "batch insert failed; recording one by one");
                for (event, reply) in events.iter().zip(replies) {
                    let _ = reply.send(
                        store
                            .record_delivery(event, now)
                            .await
                            .map_err(|e: StoreError| e.to_string()),
                    );
                }
            }
            Err(e) => {
                for reply in replies {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
    }
}
