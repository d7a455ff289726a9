//! Reading the store: summaries without bodies, and whole requests on demand.

use std::path::Path;

use anyhow::Context as _;
use bytes::Bytes;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row};

use super::codec::decode_headers;
use crate::delivery::{Delivery, DeliveryStatus};
use crate::model::round_ms;
use crate::model::{HeaderList, RecordedResponse};
use crate::signature::{Status, Verdict};
use crate::summary::{
    headers_json, BodyJson, ForwardSummary, RequestDetail, RequestSummary, ResponseJson,
};

/// A read-only view of a store; safe to use while `listen` writes to it.
pub struct StoreReader {
    conn: Connection,
}

/// A whole stored request: summary, headers, body and the answer it got.
#[derive(Clone, Debug)]
pub struct StoredRequest {
    /// The summary fields.
    pub summary: RequestSummary,
    /// The sender's address.
    pub peer: Option<String>,
    /// Headers in arrival order.
    pub headers: HeaderList,
    /// The raw body.
    pub body: Bytes,
    /// The answer given to the sender.
    pub response: Option<RecordedResponse>,
    /// The URL it was forwarded to, if it was.
    pub forward_target: Option<String>,
    /// Whether the stored answer is only the first bytes of a larger one
    /// (`listen --max-stored-answer`); the sender got all of it.
    pub answer_truncated: bool,
}

impl StoredRequest {
    /// Where it was forwarded, without the request's own path: the TARGET to send it to again.
    pub(crate) fn forward_base(&self) -> Option<String> {
        let url = self.forward_target.as_deref()?;
        Some(crate::target::forward_base(url, &self.summary.path).to_string())
    }

    /// The `requests show --json` shape.
    pub fn to_detail(&self) -> RequestDetail {
        RequestDetail {
            summary: self.summary.clone(),
            peer: self.peer.clone(),
            headers: headers_json(&self.headers),
            body: BodyJson::encode(&self.body),
            response: self.response.as_ref().map(ResponseJson::from),
        }
    }
}

/// A request's summary columns, from `requests r` joined with its answer `a` ([`FROM_REQUESTS`]).
const SUMMARY_COLUMNS: &str = "r.id, r.received_at, r.method, r.path, r.size, r.event_type,
    r.sig_status, r.sig_profile, r.sig_reason, a.fwd_target, a.fwd_status, a.fwd_duration_ms,
    a.fwd_error, r.replay_of, COALESCE(a.schema_report, r.schema_report)";

/// Requests with the answer each got, if any.
const FROM_REQUESTS: &str = "requests r LEFT JOIN answers a ON a.request_seq = r.seq";

fn summary_from_row(row: &Row<'_>) -> rusqlite::Result<RequestSummary> {
    let sig_status: String = row.get(6)?;
    let fwd_target: Option<String> = row.get(9)?;
    Ok(RequestSummary {
        id: row.get(0)?,
        received_at: row.get(1)?,
        method: row.get(2)?,
        path: row.get(3)?,
        size: row.get::<_, i64>(4)? as u64,
        event_type: row.get(5)?,
        signature: Verdict {
            status: Status::parse(&sig_status).unwrap_or(Status::Unchecked),
            profile: row.get(7)?,
            reason: row.get(8)?,
        },
        forward: match fwd_target {
            Some(_) => Some(ForwardSummary {
                status: row.get(10)?,
                duration_ms: round_ms(row.get::<_, Option<f64>>(11)?.unwrap_or(0.0)),
                error: row.get(12)?,
            }),
            None => None,
        },
        replay_of: row.get(13)?,
        schema: row
            .get::<_, Option<String>>(14)?
            .and_then(|json| serde_json::from_str(&json).ok()),
    })
}

impl StoreReader {
    /// Opens the store in `dir`; fails with a clear message when nothing was ever captured there.
    pub fn open(dir: &Path) -> anyhow::Result<StoreReader> {
        let path = super::db_path(dir);
        if !path.exists() {
            anyhow::bail!(
                "no store at {} (nothing has been captured there yet; use --store DIR or $WEBHOOK_DEV_STORE)",
                dir.display()
            );
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_context(|| format!("cannot open the store at {}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(StoreReader { conn })
    }

    /// The newest `limit` summaries (all when `None`), oldest first.
    pub fn list(&self, limit: Option<usize>) -> anyhow::Result<Vec<RequestSummary>> {
        let sql =
            format!("SELECT {SUMMARY_COLUMNS} FROM {FROM_REQUESTS} ORDER BY r.id DESC LIMIT ?1");
        let limit = limit.map(|n| n as i64).unwrap_or(-1);
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows: Vec<RequestSummary> = stmt
            .query_map(params![limit], summary_from_row)?
            .collect::<Result<_, _>>()?;
        rows.reverse();
        Ok(rows)
    }

    /// How many requests the store holds.
    pub fn count(&self) -> anyhow::Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM requests", [], |r| r.get::<_, i64>(0))?
            as u64)
    }

    /// The request with id `id`, or the one whose id starts with `id` when exactly one does.
    pub fn get(&self, id: &str) -> anyhow::Result<Option<StoredRequest>> {
        match self.resolve_id(id)? {
            Some(full_id) => self.get_exact(&full_id),
            None => Ok(None),
        }
    }

    /// The request whose id is exactly `id` (one index look-up; no prefix matching).
    pub(crate) fn get_exact(&self, full_id: &str) -> anyhow::Result<Option<StoredRequest>> {
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS}, r.peer, r.headers, r.body, a.status, a.headers, a.body,
                a.truncated
             FROM {FROM_REQUESTS} WHERE r.id = ?1"
        );
        let stored = self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![full_id], |row| {
                let response_status: Option<u16> = row.get(18)?;
                let response = match response_status {
                    Some(status) => Some(RecordedResponse {
                        status,
                        headers: decode_headers(&row.get::<_, Vec<u8>>(19)?),
                        body: Bytes::from(row.get::<_, Vec<u8>>(20)?),
                    }),
                    None => None,
                };
                Ok(StoredRequest {
                    summary: summary_from_row(row)?,
                    peer: row.get(15)?,
                    headers: decode_headers(&row.get::<_, Vec<u8>>(16)?),
                    body: Bytes::from(row.get::<_, Vec<u8>>(17)?),
                    response,
                    forward_target: row.get(9)?,
                    answer_truncated: row.get::<_, Option<bool>>(21)?.unwrap_or(false),
                })
            })
            .optional()?;
        Ok(stored)
    }

    /// Deliveries, oldest first, optionally only those with `status`.
    pub fn deliveries(&self, status: Option<DeliveryStatus>) -> anyhow::Result<Vec<Delivery>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, event_type, target, status, attempt_count, response_status_code,
                response_body, error_message, created_at, kind, request_id, source_id
             FROM deliveries WHERE (?1 IS NULL OR status = ?1) ORDER BY seq",
        )?;
        let rows = stmt.query_map(params![status.map(|s| s.as_str())], |row| {
            let status: String = row.get(3)?;
            Ok(Delivery {
                id: row.get(0)?,
                event_type: row.get(1)?,
                target: row.get(2)?,
                status: DeliveryStatus::parse(&status).unwrap_or(DeliveryStatus::Failed),
                attempt_count: row.get(4)?,
                response_status_code: row.get(5)?,
                response_body: row.get(6)?,
                error_message: row.get(7)?,
                created_at: row.get(8)?,
                kind: row.get(9)?,
                request_id: row.get(10)?,
                source_id: row.get(11)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn resolve_id(&self, id: &str) -> anyhow::Result<Option<String>> {
        let exact: Option<String> = self
            .conn
            .query_row("SELECT id FROM requests WHERE id = ?1", params![id], |r| {
                r.get(0)
            })
            .optional()?;
        if exact.is_some() {
            return Ok(exact);
        }
        let escaped = id
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let mut stmt = self
            .conn
            .prepare("SELECT id FROM requests WHERE id LIKE ?1 ESCAPE '\\' LIMIT 2")?;
        let matches: Vec<String> = stmt
            .query_map(params![format!("{escaped}%")], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        match matches.as_slice() {
            [one] => Ok(Some(one.clone())),
            [] => Ok(None),
            _ => anyhow::bail!("the id {id:?} is ambiguous: more than one request starts with it"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::{Delivery, DeliveryStatus};
    use crate::store::{Durability, Store};

    fn delivery(id: &str) -> Delivery {
        Delivery {
            id: id.into(),
            event_type: None,
            target: "http://127.0.0.1:9/".into(),
            status: DeliveryStatus::Success,
            attempt_count: 1,
            response_status_code: Some(200),
            response_body: None,
            error_message: None,
            created_at: "2026-12-06T16:00:00.000000Z".into(),
            kind: "trigger".into(),
            request_id: None,
            source_id: None,
        }
    }

    /// ULIDs made within one millisecond do not sort in the order they were made.
    #[tokio::test]
    async fn deliveries_are_listed_in_the_order_they_were_made_not_by_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Durability::Process).unwrap();
        for id in [
            "dlv_01KBTZ0000ZZZZZZZZZZZZZZZZ",
            "dlv_01KBTZ00000000000000000000",
        ] {
            store.save_delivery(delivery(id)).await.unwrap();
        }
        let mut updated = delivery("dlv_01KBTZ0000ZZZZZZZZZZZZZZZZ");
        updated.attempt_count = 2;
        store.save_delivery(updated).await.unwrap();
        let listed: Vec<(String, u32)> = StoreReader::open(dir.path())
            .unwrap()
            .deliveries(None)
            .unwrap()
            .into_iter()
            .map(|d| (d.id, d.attempt_count))
            .collect();
        assert_eq!(
            listed,
            [
                ("dlv_01KBTZ0000ZZZZZZZZZZZZZZZZ".to_string(), 2),
                ("dlv_01KBTZ00000000000000000000".to_string(), 1),
            ]
        );
    }
}
