//! Deliveries: every attempt of `trigger` and `replay`, kept the way providers keep their
//! delivery logs.

use serde::{Deserialize, Serialize};

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// A 2xx answer arrived.
    Success,
    /// Every attempt so far failed and no more will be made.
    Failed,
    /// Attempts failed and a retry is scheduled.
    Pending,
}

impl DeliveryStatus {
    /// The lower-case name.
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            DeliveryStatus::Success => "success",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Pending => "pending",
        }
    }

    /// Parses the lower-case name.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "success" => Some(DeliveryStatus::Success),
            "failed" => Some(DeliveryStatus::Failed),
            "pending" => Some(DeliveryStatus::Pending),
            _ => None,
        }
    }
}

/// One delivery (`deliveries list --json` prints one per line).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// `dlv_` + ULID.
    pub id: String,
    /// The event type, when known.
    pub event_type: Option<String>,
    /// The URL it was sent to.
    pub target: String,
    /// success, failed or pending.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempt_count: u32,
    /// The last answer's status code.
    pub response_status_code: Option<u16>,
    /// The last answer's body (as text, lossy).
    pub response_body: Option<String>,
    /// Why the last attempt failed.
    pub error_message: Option<String>,
    /// When the delivery was created (RFC 3339).
    pub created_at: String,
    /// `trigger` or `replay`.
    pub kind: String,
    /// The stored request of the last attempt.
    pub request_id: Option<String>,
    /// For replays, the request that was replayed.
    pub source_id: Option<String>,
}

/// Success rate per target and event type over `deliveries`, one line each.
pub(crate) fn summarize(deliveries: &[Delivery]) -> Vec<String> {
    let mut groups: Vec<((String, String), (usize, usize))> = Vec::new();
    for d in deliveries {
        let key = (
            d.target.clone(),
            d.event_type.clone().unwrap_or_else(|| "-".into()),
        );
        let success = usize::from(d.status == DeliveryStatus::Success);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, (ok, total))) => {
                *ok += success;
                *total += 1;
            }
            None => groups.push((key, (success, 1))),
        }
    }
    groups
        .into_iter()
        .map(|((target, event), (ok, total))| {
            format!(
                "{target}  {event}  {ok}/{total} succeeded ({:.0}%)",
                ok as f64 * 100.0 / total as f64
            )
        })
        .collect()
}
