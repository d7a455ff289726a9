//! Inserts, committed in batches (group commit): one transaction takes whatever arrived while the
//! previous one committed. Channels are locked in name order, so that two instances' batches
//! never deadlock.

use std::sync::Arc;

use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot};

use super::{OWNER_FRESH_SECS, QUEUE_NOTICE};
use crate::relay::protocol::WireRequest;
use crate::store::encode_headers;

/// The most inserts committed in one transaction.
const MAX_BATCH: usize = 256;

/// A committed insert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inserted {
    /// Its place in its channel's order.
    pub seq: i64,
    /// A listener session delivers the channel now, so the provider may wait for its answer.
    pub listener: bool,
}

/// Why a request was not queued.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InsertError {
    /// The channel does not exist (any more).
    #[error("the channel does not exist")]
    NoChannel,
    /// The channel holds `--max-queue` requests.
    #[error("the channel's queue is full")]
    Full,
    /// The database did not take it.
    #[error("the queue database: {0}")]
    Db(String),
}

pub(super) struct InsertJob {
    pub(super) channel: String,
    pub(super) request: Arc<WireRequest>,
    pub(super) size: i64,
    pub(super) max_queue: i64,
    pub(super) create: bool,
    pub(super) done: oneshot::Sender<Result<Inserted, InsertError>>,
}

pub(super) async fn run(pool: Pool, mut jobs: mpsc::UnboundedReceiver<InsertJob>) {
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        batch.sort_by(|a, b| a.channel.cmp(&b.channel));
        match commit(&pool, &batch).await {
            Ok(results) => {
                for (job, result) in batch.into_iter().zip(results) {
                    let _ = job.done.send(result);
                }
            }
            Err(err) => {
                let err = format!("{err:#}");
                tracing::warn!(
                    "relay queue database: {} request(s) not queued: {err}",
                    batch.len()
                );
                for job in batch {
                    let _ = job.done.send(Err(InsertError::Db(err.clone())));
                }
            }
        }
    }
}

async fn commit(
    pool: &Pool,
    batch: &[InsertJob],
) -> anyhow::Result<Vec<Result<Inserted, InsertError>>> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.batch_execute("SET LOCAL synchronous_commit = on")
        .await?;
    let create = tx
        .prepare_cached("INSERT INTO wd_channels (name) VALUES ($1) ON CONFLICT DO NOTHING")
        .await?;
    let take_seq = tx
        .prepare_cached(&format!(
            "UPDATE wd_channels SET next_seq = next_seq + 1, queued = queued + 1,
                    queued_bytes = queued_bytes + $2
              WHERE name = $1 AND queued < $3
              RETURNING next_seq, owner_session IS NOT NULL
                        AND owner_seen > now() - make_interval(secs => {OWNER_FRESH_SECS})"
        ))
        .await?;
    let exists = tx
        .prepare_cached("SELECT 1 FROM wd_channels WHERE name = $1")
        .await?;
    let insert = tx
        .prepare_cached(
            "INSERT INTO wd_queue (channel, seq, id, received_at, peer, method, path, headers,
                                   body, size, awaited)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .await?;
    let mut results = Vec::with_capacity(batch.len());
    let mut grown: Vec<&str> = Vec::new();
    for job in batch {
        if job.create {
            tx.execute(&create, &[&job.channel]).await?;
        }
        let Some(row) = tx
            .query_opt(&take_seq, &[&job.channel, &job.size, &job.max_queue])
            .await?
        else {
            let known = tx.query_opt(&exists, &[&job.channel]).await?.is_some();
            results.push(Err(if known {
                InsertError::Full
            } else {
                InsertError::NoChannel
            }));
            continue;
        };
        let seq: i64 = row.get(0);
        let listener: bool = row.get(1);
        let request = &job.request;
        tx.execute(
            &insert,
            &[
                &job.channel,
                &seq,
                &request.id,
                &request.received_at,
                &request.peer,
                &request.method,
                &request.path,
                &encode_headers(&request.headers),
                &request.body.as_ref(),
                &job.size,
                &listener,
            ],
        )
        .await?;
        if grown.last() != Some(&job.channel.as_str()) {
            grown.push(&job.channel);
        }
        results.push(Ok(Inserted { seq, listener }));
    }
    for channel in grown {
        tx.execute("SELECT pg_notify($1, $2)", &[&QUEUE_NOTICE, &channel])
            .await?;
    }
    tx.commit().await?;
    Ok(results)
}
