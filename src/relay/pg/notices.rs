//! The instance's ears: one connection that LISTENs for queue and answer notices, reconnecting
//! with backoff (and saying so) when the database goes away, and a poll of the answers table each
//! second for providers waiting here, in case a notice was missed.

use std::sync::Weak;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};

use tokio::io::{AsyncRead, AsyncWrite};

use super::{Inner, PgQueue, Settled, Tls, ANSWER_NOTICE, POLL, QUEUE_NOTICE};

pub(super) async fn run(
    config: tokio_postgres::Config,
    tls: Tls,
    queue: Weak<Inner>,
    wake: mpsc::UnboundedSender<String>,
) {
    let mut pause = Duration::from_millis(100);
    let mut lost = false;
    loop {
        match listen(&config, &tls).await {
            Ok((client, mut notices, connection)) => {
                if lost {
                    tracing::warn!("relay queue database reachable again");
                }
                pause = Duration::from_millis(100);
                // Anything may have happened while nobody listened.
                let _ = wake.send(String::new());
                let mut poll = tokio::time::interval(POLL);
                let mut polls = 0u64;
                loop {
                    tokio::select! {
                        notice = notices.recv() => match notice {
                            Some((channel, payload)) if channel == QUEUE_NOTICE => {
                                let _ = wake.send(payload);
                            }
                            Some((_, id)) => {
                                let Some(here) = upgrade(&queue) else { return };
                                if here.waits_for(&id) {
                                    tokio::spawn(async move { here.collect_answers(vec![id]).await });
                                }
                            }
                            None => break,
                        },
                        _ = poll.tick() => {
                            let Some(here) = upgrade(&queue) else { return };
                            polls += 1;
                            if polls.is_multiple_of(60) {
                                here.sweep_answers().await;
                            }
                            let ids = here.waiting_ids();
                            if !ids.is_empty() {
                                tokio::spawn(async move { here.collect_answers(ids).await });
                            }
                        }
                    }
                }
                drop(client);
                connection.abort();
                tracing::warn!(
                    "relay queue database: the notification connection was lost; reconnecting"
                );
                lost = true;
            }
            Err(err) => {
                if upgrade(&queue).is_none() {
                    return;
                }
                tracing::warn!(
                    "relay queue database unreachable ({err:#}); retrying in {} ms",
                    pause.as_millis()
                );
                lost = true;
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
    }
}

fn upgrade(queue: &Weak<Inner>) -> Option<PgQueue> {
    queue.upgrade().map(|inner| PgQueue { inner })
}

type Notices = mpsc::UnboundedReceiver<(String, String)>;

async fn listen(
    config: &tokio_postgres::Config,
    tls: &Tls,
) -> anyhow::Result<(tokio_postgres::Client, Notices, tokio::task::JoinHandle<()>)> {
    let (client, (notices, task)) = match tls {
        Tls::Plain => {
            let (client, connection) = config.connect(NoTls).await?;
            (client, forward_notices(connection))
        }
        Tls::Rustls(tls) => {
            let (client, connection) = config.connect(tls.clone()).await?;
            (client, forward_notices(connection))
        }
    };
    client
        .batch_execute(&format!("LISTEN {QUEUE_NOTICE}; LISTEN {ANSWER_NOTICE}"))
        .await?;
    Ok((client, notices, task))
}

/// Drives `connection`, passing its notifications on as (channel, payload).
fn forward_notices<S, T>(
    mut connection: tokio_postgres::Connection<S, T>,
) -> (Notices, tokio::task::JoinHandle<()>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    if tx
                        .send((n.channel().to_string(), n.payload().to_string()))
                        .is_err()
                    {
                        return;
                    }
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::debug!("relay queue notification connection: {err}");
                    return;
                }
            }
        }
    });
    (rx, task)
}

impl PgQueue {
    /// Hands the answers waiting in the database for `ids` to their providers here.
    async fn collect_answers(&self, ids: Vec<String>) {
        let Ok(client) = self.inner.pool.get().await else {
            return;
        };
        let rows = match client
            .query(
                "DELETE FROM wd_answers WHERE id = ANY($1) RETURNING id, outcome",
                &[&ids],
            )
            .await
        {
            Ok(rows) => rows,
            Err(err) => {
                tracing::debug!("relay queue database: answers not read: {err}");
                return;
            }
        };
        for row in rows {
            let id: String = row.get(0);
            let outcome: String = row.get(1);
            match serde_json::from_str::<Settled>(&outcome) {
                Ok(outcome) => {
                    let _ = self.answer_here(&id, outcome);
                }
                Err(err) => {
                    tracing::warn!(%id, "an unreadable answer in the queue database: {err}")
                }
            }
        }
    }

    /// Deletes answers nobody collected (their provider gave up, or its instance died).
    async fn sweep_answers(&self) {
        if let Ok(client) = self.inner.pool.get().await {
            let _ = client
                .execute(
                    "DELETE FROM wd_answers WHERE created_at < now() - interval '10 minutes'",
                    &[],
                )
                .await;
        }
    }
}
