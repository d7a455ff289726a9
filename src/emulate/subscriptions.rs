//! The emulated provider's webhook subscriptions, kept in the store.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::db::{page, Cursor, EmulatorDb, Page};
use crate::signature::Secret;

/// One registered webhook: Avala's `Webhook`, Infermedica's webhook configuration.
#[derive(Clone, Debug)]
pub struct Subscription {
    /// `wh_…` (Avala) or a UUID (Infermedica).
    pub id: String,
    /// Where events are sent.
    pub target_url: String,
    /// The event types it receives.
    pub events: Vec<String>,
    /// Whether events are sent to it.
    pub is_active: bool,
    /// The signing secret (Avala) or authorization token (Infermedica).
    pub secret: Secret,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// What a create or update request set, in the emulator's own names: each provider reads its
/// wire names into it.
#[derive(Default)]
pub struct Changes {
    /// Where events are to be sent.
    pub target_url: Option<String>,
    /// The event types to receive.
    pub events: Option<Vec<String>>,
    /// Whether events are to be sent.
    pub is_active: Option<bool>,
    /// The signing secret or authorization token.
    pub secret: Option<String>,
}

impl Subscription {
    /// Applies what an update set, stamped `now`.
    pub fn apply(&mut self, changes: Changes, now: String) {
        if let Some(url) = changes.target_url {
            self.target_url = url;
        }
        if let Some(events) = changes.events {
            self.events = events;
        }
        if let Some(active) = changes.is_active {
            self.is_active = active;
        }
        if let Some(secret) = changes.secret {
            self.secret = Secret::new(secret);
        }
        self.updated_at = now;
    }

    /// Whether it receives `event` now.
    pub fn receives(&self, event: &str) -> bool {
        self.is_active && self.events.iter().any(|e| e == event)
    }
}

const COLUMNS: &str = "id, target_url, events, is_active, secret, created_at, updated_at";

fn read(row: &Row) -> rusqlite::Result<Subscription> {
    let events: String = row.get(2)?;
    Ok(Subscription {
        id: row.get(0)?,
        target_url: row.get(1)?,
        events: serde_json::from_str(&events).unwrap_or_default(),
        is_active: row.get(3)?,
        secret: Secret::new(row.get::<_, String>(4)?),
        created_at: row.get(5)?,
        updated_at: row.get(6)?,
    })
}

fn events_json(events: &[String]) -> String {
    serde_json::to_string(events).expect("a list of strings serializes")
}

/// Reads one subscription of `provider` on `conn`.
pub fn get_on(
    conn: &Connection,
    provider: &str,
    id: &str,
) -> rusqlite::Result<Option<Subscription>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM emulator_subscriptions WHERE provider = ?1 AND id = ?2"),
        params![provider, id],
        read,
    )
    .optional()
}

/// Turns the subscription `id` off (Avala disables a webhook that failed every attempt).
pub fn disable_on(conn: &Connection, id: &str, now: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE emulator_subscriptions SET is_active = 0, updated_at = ?2 WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

impl EmulatorDb {
    /// Stores a new subscription.
    pub async fn insert_subscription(
        &self,
        provider: &'static str,
        sub: Subscription,
    ) -> anyhow::Result<()> {
        self.run(move |conn| {
            conn.execute(
                "INSERT INTO emulator_subscriptions
                    (provider, id, target_url, events, is_active, secret, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    provider,
                    sub.id,
                    sub.target_url,
                    events_json(&sub.events),
                    sub.is_active,
                    sub.secret.expose(),
                    sub.created_at,
                    sub.updated_at
                ],
            )
            .map(drop)
        })
        .await
    }

    /// Replaces a stored subscription's fields (by id).
    pub async fn update_subscription(&self, sub: Subscription) -> anyhow::Result<()> {
        self.run(move |conn| {
            conn.execute(
                "UPDATE emulator_subscriptions SET target_url = ?2, events = ?3, is_active = ?4,
                    secret = ?5, updated_at = ?6 WHERE id = ?1",
                params![
                    sub.id,
                    sub.target_url,
                    events_json(&sub.events),
                    sub.is_active,
                    sub.secret.expose(),
                    sub.updated_at
                ],
            )
            .map(drop)
        })
        .await
    }

    /// One subscription of `provider`.
    pub async fn subscription(
        &self,
        provider: &'static str,
        id: &str,
    ) -> anyhow::Result<Option<Subscription>> {
        let id = id.to_string();
        self.run(move |conn| get_on(conn, provider, &id)).await
    }

    /// Deletes a subscription; returns it, or `None` when there was none.
    pub async fn delete_subscription(
        &self,
        provider: &'static str,
        id: &str,
    ) -> anyhow::Result<Option<Subscription>> {
        let id = id.to_string();
        self.run(move |conn| {
            let tx = conn.transaction()?;
            let found = get_on(&tx, provider, &id)?;
            tx.execute(
                "DELETE FROM emulator_subscriptions WHERE provider = ?1 AND id = ?2",
                params![provider, id],
            )?;
            tx.commit()?;
            Ok(found)
        })
        .await
    }

    /// A page of `provider`'s subscriptions, newest first.
    pub async fn subscriptions_page(
        &self,
        provider: &'static str,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> anyhow::Result<Page<Subscription>> {
        self.run(move |conn| {
            page(
                conn,
                "emulator_subscriptions",
                COLUMNS,
                provider,
                cursor,
                limit,
                read,
            )
        })
        .await
    }

    /// Every subscription of `provider`, oldest first.
    pub async fn all_subscriptions(
        &self,
        provider: &'static str,
    ) -> anyhow::Result<Vec<Subscription>> {
        self.run(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {COLUMNS} FROM emulator_subscriptions WHERE provider = ?1 ORDER BY seq"
            ))?;
            let rows = stmt.query_map(params![provider], read)?;
            rows.collect()
        })
        .await
    }
}
