//! The relay's queue in PostgreSQL (`relay --queue postgres://...`), shared by every relay instance
//! started with the same database and secret, so that they act as one relay.
//!
//! PostgreSQL is the source of truth: a channel's row orders its queue (each insert takes the next
//! number under the row's lock, so numbers commit in order) and names the listener session that
//! delivers it; the queue holds every request until its listener acknowledges it; answers for a
//! provider waiting on another instance go through a table. `LISTEN/NOTIFY` only wakes instances
//! up; each also polls, so a lost notification costs a second, never a request.

mod acks;
mod notices;
mod schema;
mod writer;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::NoTls;

use super::protocol::{TakenOver, WireRequest, WireResponse};
use super::queue::Forgotten;
use crate::store::decode_headers;
use crate::store::{WriteError, Writer};
pub use schema::SCHEMA_VERSION;
pub(crate) use writer::{InsertError, Inserted};

/// The NOTIFY channel that says a channel's queue grew (payload: the channel).
const QUEUE_NOTICE: &str = "wd_queue";
/// The NOTIFY channel that says an answer waits in `wd_answers` (payload: the request id).
const ANSWER_NOTICE: &str = "wd_answers";
/// How often instances look at the database without being told to.
pub(crate) const POLL: Duration = Duration::from_secs(1);
/// A listener session whose instance has not refreshed its channel's row for this long is gone.
const OWNER_FRESH_SECS: f64 = 3.0;

/// What a provider waiting for a request learns, from this instance or another one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum Settled {
    /// The listener stored it and answered.
    Answered(WireResponse),
    /// The listener stored it without an answer for the provider.
    Acknowledged,
    /// The listener could not store it; it stays queued.
    NotStored(String),
    /// The listener left before storing it; it stays queued.
    Offline,
}

/// A request taken from the queue for delivery.
pub(crate) struct Claimed {
    /// Its place in its channel's order.
    pub seq: i64,
    /// The request, `redelivery` set when it was handed out before.
    pub request: WireRequest,
    /// A provider waits for its answer.
    pub awaited: bool,
}

/// Taking a channel for a listener session.
pub(crate) enum Claim {
    /// The session delivers the channel now; `queued` requests wait.
    Claimed {
        /// Requests in the channel's queue.
        queued: u64,
    },
    /// A `--no-takeover` listener, alive, holds it.
    Held {
        /// Its address.
        peer: Option<String>,
        /// Since when.
        since: DateTime<Utc>,
    },
}

/// Whether a listener session still delivers its channel.
pub(crate) enum Ownership {
    /// It does (and the claim is refreshed).
    Held,
    /// A newer listener, maybe on another instance, took the channel over.
    TakenOver(TakenOver),
    /// The channel was forgotten (`relay forget`).
    Forgotten,
}

/// A cheap-to-clone handle on the shared queue.
#[derive(Clone)]
pub(crate) struct PgQueue {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    /// This process, as named in the channels' owner rows.
    instance: String,
    inserts: mpsc::UnboundedSender<writer::InsertJob>,
    acks: mpsc::UnboundedSender<acks::AckJob>,
    /// Providers on this instance waiting for an answer; by request id.
    waiting: Mutex<HashMap<String, oneshot::Sender<Settled>>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// How connections to the database are made.
#[derive(Clone)]
enum Tls {
    Plain,
    Rustls(tokio_postgres_rustls::MakeRustlsConnect),
}

impl Tls {
    fn for_config(
        config: &tokio_postgres::Config,
        ca: Option<&std::path::Path>,
    ) -> anyhow::Result<Tls> {
        if config.get_ssl_mode() != tokio_postgres::config::SslMode::Require {
            if ca.is_some() {
                anyhow::bail!("--queue-ca needs sslmode=require in the --queue URL");
            }
            return Ok(Tls::Plain);
        }
        let extra = match ca {
            Some(path) => crate::relay::tls::load_certs(path)?,
            None => Vec::new(),
        };
        let mut client = (*crate::relay::tls::client_config(&extra)?).clone();
        client.alpn_protocols.clear();
        Ok(Tls::Rustls(tokio_postgres_rustls::MakeRustlsConnect::new(
            client,
        )))
    }
}

/// The error with its causes (a pool's or driver's own message alone says little).
fn db_error(err: impl std::error::Error + Send + Sync + 'static) -> WriteError {
    WriteError::Write(
        Writer::RelayQueue,
        format!("the queue database: {:#}", anyhow::Error::new(err)),
    )
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl PgQueue {
    /// Connects to the database at `url`, creating or migrating the schema, and starts the
    /// background tasks. `wake` receives the name of each channel whose queue may have grown
    /// (an empty name: any channel may have).
    /// With `sslmode=require` in the URL, the connections use TLS, trusting the Mozilla roots
    /// and the certificates in `ca`.
    pub(crate) async fn connect(
        url: &str,
        ca: Option<&std::path::Path>,
        wake: mpsc::UnboundedSender<String>,
    ) -> anyhow::Result<Self> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| anyhow::anyhow!("--queue is not a PostgreSQL URL ({e})"))?;
        let tls = Tls::for_config(&config, ca)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        config.application_name("webhook-dev relay");
        // Only inserts must be on disk before they are acknowledged (the writer turns this back
        // on for its transactions); losing the last delivery attempts, deletes or answers to a
        // database crash costs a redelivery or a provider's 504, never a request.
        config.options("-c synchronous_commit=off");
        let recycling = || ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match &tls {
            Tls::Plain => Manager::from_config(config.clone(), NoTls, recycling()),
            Tls::Rustls(tls) => Manager::from_config(config.clone(), tls.clone(), recycling()),
        };
        let pool = Pool::builder(manager)
            .max_size(16)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(5)))
            .create_timeout(Some(Duration::from_secs(5)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .build()?;
        {
            let mut client = pool.get().await.map_err(|e| {
                anyhow::Error::new(e).context("cannot connect to the queue database")
            })?;
            schema::migrate(&mut client).await?;
        }
        let (inserts, insert_jobs) = mpsc::unbounded_channel();
        let (acks, ack_jobs) = mpsc::unbounded_channel();
        let queue = PgQueue {
            inner: Arc::new(Inner {
                pool: pool.clone(),
                instance: ulid::Ulid::new().to_string(),
                inserts,
                acks,
                waiting: Mutex::new(HashMap::new()),
                tasks: Mutex::new(Vec::new()),
            }),
        };
        let tasks = vec![
            tokio::spawn(writer::run(pool.clone(), insert_jobs)),
            tokio::spawn(acks::run(pool.clone(), ack_jobs)),
            tokio::spawn(notices::run(config, tls, queue.downgrade(), wake)),
        ];
        *lock(&queue.inner.tasks) = tasks;
        Ok(queue)
    }

    fn downgrade(&self) -> std::sync::Weak<Inner> {
        Arc::downgrade(&self.inner)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, WriteError> {
        self.inner.pool.get().await.map_err(db_error)
    }

    /// Records that channel `name` exists.
    pub(crate) async fn open_channel(&self, name: &str) -> Result<(), WriteError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO wd_channels (name) VALUES ($1) ON CONFLICT DO NOTHING",
                &[&name],
            )
            .await
            .map_err(db_error)?;
        Ok(())
    }

    /// Whether channel `name` exists.
    pub(crate) async fn channel_exists(&self, name: &str) -> Result<bool, WriteError> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT 1 FROM wd_channels WHERE name = $1", &[&name])
            .await
            .map_err(db_error)?;
        Ok(row.is_some())
    }

    /// Queues `request` for `channel` behind everything queued there before, unless the channel
    /// holds `max_queue` requests already; with `create`, a channel that does not exist is made.
    /// Resolves once committed.
    pub(crate) async fn insert(
        &self,
        channel: &str,
        request: Arc<WireRequest>,
        size: u64,
        max_queue: usize,
        create: bool,
    ) -> Result<Inserted, InsertError> {
        let (done, outcome) = oneshot::channel();
        let job = writer::InsertJob {
            channel: channel.to_string(),
            request,
            size: size as i64,
            max_queue: max_queue as i64,
            create,
            done,
        };
        if self.inner.inserts.send(job).is_err() {
            return Err(InsertError::Db("the relay queue is closed".into()));
        }
        outcome
            .await
            .unwrap_or_else(|_| Err(InsertError::Db("the relay queue is closed".into())))
    }

    /// Starts waiting for the answer to request `id` (before it is queued, so none is missed).
    pub(crate) fn expect_answer(&self, id: &str) -> oneshot::Receiver<Settled> {
        let (tx, rx) = oneshot::channel();
        lock(&self.inner.waiting).insert(id.to_string(), tx);
        rx
    }

    /// Stops waiting for the answer to `id`.
    pub(crate) fn forget_answer(&self, id: &str) {
        lock(&self.inner.waiting).remove(id);
    }

    fn waits_for(&self, id: &str) -> bool {
        lock(&self.inner.waiting).contains_key(id)
    }

    fn waiting_ids(&self) -> Vec<String> {
        lock(&self.inner.waiting).keys().cloned().collect()
    }

    fn answer_here(&self, id: &str, outcome: Settled) -> Result<(), Settled> {
        match lock(&self.inner.waiting).remove(id) {
            Some(waiter) => {
                let _ = waiter.send(outcome);
                Ok(())
            }
            None => Err(outcome),
        }
    }

    /// Whether a listener session, on any instance, delivers `channel` now.
    pub(crate) async fn listener_connected(&self, channel: &str) -> Result<bool, WriteError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT owner_session IS NOT NULL
                        AND owner_seen > now() - make_interval(secs => $2)
                   FROM wd_channels WHERE name = $1",
                &[&channel, &OWNER_FRESH_SECS],
            )
            .await
            .map_err(db_error)?;
        Ok(row.is_some_and(|row| row.get::<_, bool>(0)))
    }

    /// Makes session `session` of this instance the one that delivers `channel`, unless a live
    /// `--no-takeover` session holds it.
    pub(crate) async fn claim(
        &self,
        channel: &str,
        session: u64,
        peer: Option<String>,
        no_takeover: bool,
    ) -> Result<Claim, WriteError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let row = tx
            .query_one(
                "SELECT owner_session IS NOT NULL AND owner_no_takeover
                        AND owner_seen > now() - make_interval(secs => $2),
                        owner_peer, owner_since, queued
                   FROM wd_channels WHERE name = $1 FOR UPDATE",
                &[&channel, &OWNER_FRESH_SECS],
            )
            .await
            .map_err(db_error)?;
        if row.get::<_, bool>(0) {
            return Ok(Claim::Held {
                peer: row.get(1),
                since: row
                    .get::<_, Option<DateTime<Utc>>>(2)
                    .unwrap_or_else(Utc::now),
            });
        }
        let queued: i64 = row.get(3);
        tx.execute(
            "UPDATE wd_channels SET owner_instance = $2, owner_session = $3, owner_peer = $4,
                    owner_since = now(), owner_seen = now(), owner_no_takeover = $5
              WHERE name = $1",
            &[
                &channel,
                &self.inner.instance,
                &(session as i64),
                &peer,
                &no_takeover,
            ],
        )
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(Claim::Claimed {
            queued: queued.max(0) as u64,
        })
    }

    /// Refreshes session `session`'s hold on `channel`, or says why it has none any more.
    pub(crate) async fn still_owner(
        &self,
        channel: &str,
        session: u64,
    ) -> Result<Ownership, WriteError> {
        let client = self.client().await?;
        let refreshed = client
            .execute(
                "UPDATE wd_channels SET owner_seen = now()
                  WHERE name = $1 AND owner_instance = $2 AND owner_session = $3",
                &[&channel, &self.inner.instance, &(session as i64)],
            )
            .await
            .map_err(db_error)?;
        if refreshed > 0 {
            return Ok(Ownership::Held);
        }
        let row = client
            .query_opt(
                "SELECT owner_peer, owner_since FROM wd_channels WHERE name = $1",
                &[&channel],
            )
            .await
            .map_err(db_error)?;
        Ok(match row {
            None => Ownership::Forgotten,
            Some(row) => Ownership::TakenOver(TakenOver {
                at: row
                    .get::<_, Option<DateTime<Utc>>>(1)
                    .unwrap_or_else(Utc::now),
                by: row.get(0),
            }),
        })
    }

    /// Session `session` no longer delivers `channel` (if it still did).
    pub(crate) async fn release(&self, channel: &str, session: u64) -> Result<(), WriteError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE wd_channels SET owner_instance = NULL, owner_session = NULL
                  WHERE name = $1 AND owner_instance = $2 AND owner_session = $3",
                &[&channel, &self.inner.instance, &(session as i64)],
            )
            .await
            .map_err(db_error)?;
        Ok(())
    }

    /// Takes up to `limit` requests of `channel` after `after`, oldest first, counting the
    /// delivery attempt.
    pub(crate) async fn next(
        &self,
        channel: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Claimed>, WriteError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "UPDATE wd_queue SET attempts = attempts + 1
                  WHERE channel = $1 AND seq IN (
                        SELECT seq FROM wd_queue WHERE channel = $1 AND seq > $2
                         ORDER BY seq LIMIT $3)
                  RETURNING seq, id, received_at, peer, method, path, headers, body, awaited,
                            attempts",
                &[&channel, &after, &(limit as i64)],
            )
            .await
            .map_err(db_error)?;
        let mut claimed: Vec<Claimed> = rows.iter().map(claimed_from_row).collect();
        claimed.sort_by_key(|c| c.seq);
        Ok(claimed)
    }

    /// The request at `seq` of `channel`, if still queued, counting the delivery attempt.
    pub(crate) async fn again(
        &self,
        channel: &str,
        seq: i64,
    ) -> Result<Option<Claimed>, WriteError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "UPDATE wd_queue SET attempts = attempts + 1 WHERE channel = $1 AND seq = $2
                  RETURNING seq, id, received_at, peer, method, path, headers, body, awaited,
                            attempts",
                &[&channel, &seq],
            )
            .await
            .map_err(db_error)?;
        Ok(row.as_ref().map(claimed_from_row))
    }

    /// The listener is done with request `id` (`seq` of `channel`): it leaves the queue when
    /// `stored`, and its provider, if one waits here or on another instance, learns `outcome`.
    pub(crate) fn settle(&self, channel: &str, seq: i64, id: &str, stored: bool, outcome: Settled) {
        let answer = match self.answer_here(id, outcome) {
            Ok(()) => None,
            Err(outcome) => Some((id.to_string(), outcome)),
        };
        if !stored && answer.is_none() {
            return;
        }
        let _ = self.inner.acks.send(acks::AckJob {
            delete: stored.then(|| (channel.to_string(), seq)),
            answer,
        });
    }

    /// Tells a provider waiting for `id`, here or elsewhere, that it will get no answer now.
    pub(crate) fn tell_offline(&self, id: &str) {
        if let Err(outcome) = self.answer_here(id, Settled::Offline) {
            let _ = self.inner.acks.send(acks::AckJob {
                delete: None,
                answer: Some((id.to_string(), outcome)),
            });
        }
    }

    /// Requests queued, all channels together.
    pub(crate) async fn queued(&self) -> Result<u64, WriteError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT coalesce(sum(queued), 0)::bigint FROM wd_channels",
                &[],
            )
            .await
            .map_err(db_error)?;
        Ok(row.get::<_, i64>(0).max(0) as u64)
    }

    /// Body and header bytes queued, all channels together.
    pub(crate) async fn queued_bytes(&self) -> Result<u64, WriteError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT coalesce(sum(queued_bytes), 0)::bigint FROM wd_channels",
                &[],
            )
            .await
            .map_err(db_error)?;
        Ok(row.get::<_, i64>(0).max(0) as u64)
    }

    /// Removes channel `name` and its queued requests.
    pub(crate) async fn forget(&self, name: &str) -> Result<Forgotten, WriteError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let requests = tx
            .execute("DELETE FROM wd_queue WHERE channel = $1", &[&name])
            .await
            .map_err(db_error)?;
        let existed = tx
            .execute("DELETE FROM wd_channels WHERE name = $1", &[&name])
            .await
            .map_err(db_error)?
            > 0;
        tx.commit().await.map_err(db_error)?;
        Ok(Forgotten { existed, requests })
    }

    /// Stops the background tasks (what was committed stays committed).
    pub(crate) fn close(&self) {
        for task in lock(&self.inner.tasks).drain(..) {
            task.abort();
        }
        self.inner.pool.close();
    }
}

fn claimed_from_row(row: &tokio_postgres::Row) -> Claimed {
    let headers: Vec<u8> = row.get(6);
    let body: Vec<u8> = row.get(7);
    let attempts: i32 = row.get(9);
    Claimed {
        seq: row.get(0),
        // A provider waits only for the first delivery of a request queued while it waited.
        awaited: row.get::<_, bool>(8) && attempts == 1,
        request: WireRequest {
            id: row.get(1),
            received_at: row.get(2),
            peer: row.get(3),
            method: row.get(4),
            path: row.get(5),
            headers: decode_headers(&headers),
            body: Bytes::from(body),
            redelivery: attempts > 1,
            queued: false,
        },
    }
}
