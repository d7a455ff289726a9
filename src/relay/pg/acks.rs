//! Acknowledgements (deletes) and answers for providers on other instances, written in batches.
//! A batch the database refuses is kept and written again after a pause: a delete lost only
//! means a redelivery (which the listener drops as a duplicate), but it is not given up.

use std::collections::BTreeMap;
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::mpsc;

use super::{Settled, ANSWER_NOTICE};

const MAX_BATCH: usize = 512;

pub(super) struct AckJob {
    /// The request leaves its channel's queue.
    pub(super) delete: Option<(String, i64)>,
    /// A provider on another instance waits for this.
    pub(super) answer: Option<(String, Settled)>,
}

pub(super) async fn run(pool: Pool, mut jobs: mpsc::UnboundedReceiver<AckJob>) {
    let mut batch: Vec<AckJob> = Vec::new();
    let mut pause = Duration::from_millis(100);
    loop {
        if batch.is_empty() {
            match jobs.recv().await {
                Some(job) => batch.push(job),
                None => return,
            }
        }
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        match commit(&pool, &batch).await {
            Ok(()) => {
                batch.clear();
                pause = Duration::from_millis(100);
            }
            Err(err) => {
                tracing::warn!(
                    "relay queue database: {} acknowledgement(s) not written yet ({err:#}); retrying in {} ms",
                    batch.len(),
                    pause.as_millis()
                );
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
    }
}

async fn commit(pool: &Pool, batch: &[AckJob]) -> anyhow::Result<()> {
    let mut deletes: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for job in batch {
        if let Some((channel, seq)) = &job.delete {
            deletes.entry(channel).or_default().push(*seq);
        }
    }
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    for job in batch {
        if let Some((id, outcome)) = &job.answer {
            let outcome = serde_json::to_string(outcome)?;
            tx.execute(
                "INSERT INTO wd_answers (id, outcome) VALUES ($1, $2)
                 ON CONFLICT (id) DO UPDATE SET outcome = excluded.outcome",
                &[id, &outcome],
            )
            .await?;
            tx.execute("SELECT pg_notify($1, $2)", &[&ANSWER_NOTICE, id])
                .await?;
        }
    }
    for (channel, seqs) in deletes {
        tx.execute(
            "WITH gone AS (DELETE FROM wd_queue WHERE channel = $1 AND seq = ANY($2)
                           RETURNING size)
             UPDATE wd_channels
                SET queued = queued - (SELECT count(*) FROM gone),
                    queued_bytes = queued_bytes - (SELECT coalesce(sum(size), 0) FROM gone)
              WHERE name = $1",
            &[&channel, &seqs],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
