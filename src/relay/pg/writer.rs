//! Inserts, committed in batches (group commit): one transaction takes whatever arrived while the
//! previous one committed, and writes each channel's share with one statement when the channel
//! has room for it all. Channels are locked in name order, so that two instances' batches never
//! deadlock.

use std::sync::Arc;

use deadpool_postgres::{Pool, Transaction};
use tokio::sync::{mpsc, oneshot};

use super::{OWNER_FRESH_SECS, QUEUE_NOTICE};
use crate::relay::protocol::WireRequest;
use crate::store::encode_headers;

/// The most inserts committed in one transaction.
const MAX_BATCH: usize = 256;

/// A committed insert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Inserted {
    /// Its place in its channel's order.
    pub seq: i64,
    /// A listener session delivers the channel now, so the provider may wait for its answer.
    pub listener: bool,
}

/// Why a request was not queued.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum InsertError {
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
    let mut results = Vec::with_capacity(batch.len());
    for group in batch.chunk_by(|a, b| a.channel == b.channel) {
        let channel = &group[0].channel;
        if group.iter().any(|job| job.create) {
            let create = tx
                .prepare_cached("INSERT INTO wd_channels (name) VALUES ($1) ON CONFLICT DO NOTHING")
                .await?;
            tx.execute(&create, &[channel]).await?;
        }
        let inserted = match insert_all(&tx, group).await? {
            Some(inserted) => inserted,
            None => insert_each(&tx, group).await?,
        };
        if inserted.iter().any(Result::is_ok) {
            tx.execute("SELECT pg_notify($1, $2)", &[&QUEUE_NOTICE, channel])
                .await?;
        }
        results.extend(inserted);
    }
    tx.commit().await?;
    Ok(results)
}

/// The channel's next number for `count` requests, if it has room for them all: (the last
/// number taken, whether a listener session holds the channel).
async fn take_seqs(
    tx: &Transaction<'_>,
    channel: &str,
    count: i64,
    bytes: i64,
    max_queue: i64,
) -> anyhow::Result<Option<(i64, bool)>> {
    let take = tx
        .prepare_cached(&format!(
            "UPDATE wd_channels SET next_seq = next_seq + $2, queued = queued + $2,
                    queued_bytes = queued_bytes + $3
              WHERE name = $1 AND queued + $2 <= $4
              RETURNING next_seq, owner_session IS NOT NULL
                        AND owner_seen > now() - make_interval(secs => {OWNER_FRESH_SECS})"
        ))
        .await?;
    let row = tx
        .query_opt(&take, &[&channel, &count, &bytes, &max_queue])
        .await?;
    Ok(row.map(|row| (row.get(0), row.get(1))))
}

/// Inserts a channel's requests with one statement, if the channel has room for them all.
async fn insert_all(
    tx: &Transaction<'_>,
    group: &[InsertJob],
) -> anyhow::Result<Option<Vec<Result<Inserted, InsertError>>>> {
    let count = group.len() as i64;
    let bytes: i64 = group.iter().map(|job| job.size).sum();
    let Some((last, listener)) =
        take_seqs(tx, &group[0].channel, count, bytes, group[0].max_queue).await?
    else {
        return Ok(None);
    };
    let first = last - count + 1;
    let seqs: Vec<i64> = (first..=last).collect();
    let requests = || group.iter().map(|job| &job.request);
    let ids: Vec<&str> = requests().map(|r| r.id.as_str()).collect();
    let times: Vec<_> = requests().map(|r| r.received_at).collect();
    let peers: Vec<Option<&str>> = requests().map(|r| r.peer.as_deref()).collect();
    let methods: Vec<&str> = requests().map(|r| r.method.as_str()).collect();
    let paths: Vec<&str> = requests().map(|r| r.path.as_str()).collect();
    let headers: Vec<Vec<u8>> = requests().map(|r| encode_headers(&r.headers)).collect();
    let bodies: Vec<&[u8]> = requests().map(|r| r.body.as_ref()).collect();
    let sizes: Vec<i64> = group.iter().map(|job| job.size).collect();
    let insert = tx
        .prepare_cached(
            "INSERT INTO wd_queue (channel, seq, id, received_at, peer, method, path, headers,
                                   body, size, awaited)
             SELECT $1, seq, id, received_at, peer, method, path, headers, body, size, $11
               FROM unnest($2::bigint[], $3::text[], $4::timestamptz[], $5::text[], $6::text[],
                           $7::text[], $8::bytea[], $9::bytea[], $10::bigint[])
                    AS r (seq, id, received_at, peer, method, path, headers, body, size)",
        )
        .await?;
    tx.execute(
        &insert,
        &[
            &group[0].channel,
            &seqs,
            &ids,
            &times,
            &peers,
            &methods,
            &paths,
            &headers,
            &bodies,
            &sizes,
            &listener,
        ],
    )
    .await?;
    Ok(Some(
        seqs.into_iter()
            .map(|seq| Ok(Inserted { seq, listener }))
            .collect(),
    ))
}

/// Inserts a channel's requests one by one, as long as it has room, saying why for the others.
async fn insert_each(
    tx: &Transaction<'_>,
    group: &[InsertJob],
) -> anyhow::Result<Vec<Result<Inserted, InsertError>>> {
    let insert = tx
        .prepare_cached(
            "INSERT INTO wd_queue (channel, seq, id, received_at, peer, method, path, headers,
                                   body, size, awaited)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .await?;
    let mut results = Vec::with_capacity(group.len());
    for job in group {
        let Some((seq, listener)) = take_seqs(tx, &job.channel, 1, job.size, job.max_queue).await?
        else {
            let known = tx
                .query_opt("SELECT 1 FROM wd_channels WHERE name = $1", &[&job.channel])
                .await?
                .is_some();
            results.push(Err(if known {
                InsertError::Full
            } else {
                InsertError::NoChannel
            }));
            continue;
        };
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
        results.push(Ok(Inserted { seq, listener }));
    }
    Ok(results)
}
