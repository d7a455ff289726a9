//! The emulated provider's delivery log: one row per event sent to one subscription, updated
//! after each attempt, and one row per attempt.

use bytes::Bytes;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::db::{page, Cursor, EmulatorDb, Page};
use crate::delivery::DeliveryStatus;

/// One event on its way to one subscription.
#[derive(Clone, Debug)]
pub struct EmulatedDelivery {
    /// `whd_…`.
    pub id: String,
    /// The subscription's id.
    pub subscription: String,
    pub event_type: String,
    /// Sent by the API's test endpoint: one attempt, never retried.
    pub is_test: bool,
    /// The message id, the same for every attempt.
    pub msg_id: String,
    /// pending (a retry is due), success or failed.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: u32,
    /// The URL of the last attempt.
    pub target: String,
    /// The handler's status code on the last attempt, if it answered.
    pub response_status: Option<u16>,
    /// The handler's answer on the last attempt, if it answered.
    pub response_body: Option<String>,
    /// Why the last attempt failed.
    pub error_message: Option<String>,
    /// When the next attempt is due (RFC 3339), while pending.
    pub next_retry_at: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// The exact body sent on every attempt.
    pub payload: Bytes,
}

/// One attempt, as recorded.
#[derive(Clone, Debug)]
pub struct AttemptRecord {
    /// 1 for the first attempt.
    pub number: u32,
    /// RFC 3339.
    pub attempted_at: String,
    /// The URL it went to.
    pub target: String,
    /// The handler's status code, if it answered.
    pub response_status: Option<u16>,
    /// Why it failed, if it did.
    pub error_message: Option<String>,
    /// The stored request (`requests show ID`).
    pub request_id: Option<String>,
}

const COLUMNS: &str = "id, subscription, event_type, is_test, msg_id, status, attempts, target,
    response_status, response_body, error_message, next_retry_at, created_at, updated_at, payload";

fn read(row: &Row) -> rusqlite::Result<EmulatedDelivery> {
    let status: String = row.get(5)?;
    Ok(EmulatedDelivery {
        id: row.get(0)?,
        subscription: row.get(1)?,
        event_type: row.get(2)?,
        is_test: row.get(3)?,
        msg_id: row.get(4)?,
        status: DeliveryStatus::parse(&status).unwrap_or(DeliveryStatus::Failed),
        attempts: row.get(6)?,
        target: row.get(7)?,
        response_status: row.get(8)?,
        response_body: row.get(9)?,
        error_message: row.get(10)?,
        next_retry_at: row.get(11)?,
        created_at: row.get(12)?,
        updated_at: row.get(13)?,
        payload: Bytes::from(row.get::<_, Vec<u8>>(14)?),
    })
}

fn save_on(conn: &Connection, provider: &str, d: &EmulatedDelivery) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO emulator_deliveries (provider, id, subscription, event_type, is_test, msg_id,
            status, attempts, target, response_status, response_body, error_message, next_retry_at,
            created_at, updated_at, payload)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
         ON CONFLICT(id) DO UPDATE SET status = excluded.status, attempts = excluded.attempts,
            target = excluded.target, response_status = excluded.response_status,
            response_body = excluded.response_body, error_message = excluded.error_message,
            next_retry_at = excluded.next_retry_at, updated_at = excluded.updated_at",
        params![
            provider,
            d.id,
            d.subscription,
            d.event_type,
            d.is_test,
            d.msg_id,
            d.status.as_str(),
            d.attempts,
            d.target,
            d.response_status,
            d.response_body,
            d.error_message,
            d.next_retry_at,
            d.created_at,
            d.updated_at,
            d.payload.as_ref()
        ],
    )?;
    Ok(())
}

impl EmulatorDb {
    /// Stores new deliveries, all or none.
    pub async fn insert_deliveries(
        &self,
        provider: &'static str,
        deliveries: Vec<EmulatedDelivery>,
    ) -> anyhow::Result<()> {
        self.run(move |conn| {
            let tx = conn.transaction()?;
            for d in &deliveries {
                save_on(&tx, provider, d)?;
            }
            tx.commit()
        })
        .await
    }

    /// Records an attempt and the delivery as it stands after it, in one transaction; with
    /// `disable`, also turns that subscription off (at `delivery.updated_at`).
    pub async fn record_attempt(
        &self,
        provider: &'static str,
        delivery: EmulatedDelivery,
        attempt: AttemptRecord,
        disable: Option<String>,
    ) -> anyhow::Result<()> {
        self.run(move |conn| {
            let tx = conn.transaction()?;
            save_on(&tx, provider, &delivery)?;
            tx.execute(
                "INSERT INTO emulator_attempts (delivery, number, attempted_at, target,
                    response_status, error_message, request_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    delivery.id,
                    attempt.number,
                    attempt.attempted_at,
                    attempt.target,
                    attempt.response_status,
                    attempt.error_message,
                    attempt.request_id
                ],
            )?;
            if let Some(id) = disable {
                super::subscriptions::disable_on(&tx, &id, &delivery.updated_at)?;
            }
            tx.commit()
        })
        .await
    }

    /// Ends a delivery without another attempt (its subscription is gone or turned off).
    pub async fn finish_delivery(
        &self,
        provider: &'static str,
        delivery: EmulatedDelivery,
    ) -> anyhow::Result<()> {
        self.run(move |conn| save_on(conn, provider, &delivery))
            .await
    }

    /// One delivery of `provider`.
    pub async fn delivery(
        &self,
        provider: &'static str,
        id: &str,
    ) -> anyhow::Result<Option<EmulatedDelivery>> {
        let id = id.to_string();
        self.run(move |conn| {
            conn.query_row(
                &format!(
                    "SELECT {COLUMNS} FROM emulator_deliveries WHERE provider = ?1 AND id = ?2"
                ),
                params![provider, id],
                read,
            )
            .optional()
        })
        .await
    }

    /// A page of `provider`'s deliveries, newest first.
    pub async fn deliveries_page(
        &self,
        provider: &'static str,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> anyhow::Result<Page<EmulatedDelivery>> {
        self.run(move |conn| {
            page(
                conn,
                "emulator_deliveries",
                COLUMNS,
                provider,
                cursor,
                limit,
                read,
            )
        })
        .await
    }

    /// `provider`'s deliveries with a retry due, oldest first.
    pub async fn pending_deliveries(
        &self,
        provider: &'static str,
    ) -> anyhow::Result<Vec<EmulatedDelivery>> {
        self.run(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {COLUMNS} FROM emulator_deliveries
                 WHERE provider = ?1 AND status = 'pending' ORDER BY seq"
            ))?;
            let rows = stmt.query_map(params![provider], read)?;
            rows.collect()
        })
        .await
    }

    /// The attempts of a delivery, first first.
    pub async fn attempts(&self, delivery: &str) -> anyhow::Result<Vec<AttemptRecord>> {
        let delivery = delivery.to_string();
        self.run(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT number, attempted_at, target, response_status, error_message, request_id
                 FROM emulator_attempts WHERE delivery = ?1 ORDER BY seq",
            )?;
            let rows = stmt.query_map(params![delivery], |row| {
                Ok(AttemptRecord {
                    number: row.get(0)?,
                    attempted_at: row.get(1)?,
                    target: row.get(2)?,
                    response_status: row.get(3)?,
                    error_message: row.get(4)?,
                    request_id: row.get(5)?,
                })
            })?;
            rows.collect()
        })
        .await
    }
}
