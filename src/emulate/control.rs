//! How `trigger PROFILE EVENT --emulator URL` fires an event through a running emulator:
//! `POST /_webhook-dev/events` with the event's type and body; the emulator sends it to every
//! active subscription of the event and answers with the deliveries after their first attempt.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::deliveries::EmulatedDelivery;
use super::http::{ApiRequest, Reply};
use super::Emulator;
use crate::target::Target;

/// The control endpoint's path; no provider has it.
pub const PATH: &str = "/_webhook-dev/events";

/// What `trigger --emulator` sends.
#[derive(Debug, Serialize, Deserialize)]
pub struct FireRequest {
    /// The profile the event belongs to; must be the emulated provider's.
    pub profile: String,
    /// The event type.
    pub event: String,
    /// The exact body to deliver (JSON text).
    pub body: String,
}

/// One delivery as the emulator reports it after its first attempt.
#[derive(Debug, Serialize, Deserialize)]
pub struct FiredDelivery {
    /// The delivery id.
    pub id: String,
    /// The subscription it goes to.
    pub subscription: String,
    /// Where it was sent.
    pub target: String,
    /// success, failed or pending.
    pub status: String,
    /// Attempts made.
    pub attempts: u32,
    /// The handler's status, if it answered.
    pub response_status: Option<u16>,
    /// Why the attempt failed.
    pub error_message: Option<String>,
    /// When the next attempt is due.
    pub next_retry_at: Option<String>,
}

impl From<&EmulatedDelivery> for FiredDelivery {
    fn from(d: &EmulatedDelivery) -> Self {
        FiredDelivery {
            id: d.id.clone(),
            subscription: d.subscription.clone(),
            target: d.target.clone(),
            status: d.status.as_str().to_string(),
            attempts: d.attempts,
            response_status: d.response_status,
            error_message: d.error_message.clone(),
            next_retry_at: d.next_retry_at.clone(),
        }
    }
}

/// Answers `POST /_webhook-dev/events`.
pub async fn handle(emu: &Emulator, req: &ApiRequest) -> anyhow::Result<Reply> {
    if req.method != hyper::Method::POST {
        return Ok(Reply::json(
            405,
            json!({"detail": format!("{PATH} takes POST")}),
        ));
    }
    let fire: FireRequest = match serde_json::from_slice(&req.body) {
        Ok(fire) => fire,
        Err(e) => {
            return Ok(Reply::json(
                400,
                json!({"detail": format!("expected {{\"profile\", \"event\", \"body\"}}: {e}")}),
            ))
        }
    };
    let provider = emu.provider.name();
    if fire.profile != provider {
        return Ok(Reply::json(
            400,
            json!({"detail": format!("this emulator is {provider}'s; it cannot send {}'s events", fire.profile)}),
        ));
    }
    if emu.profile.event(&fire.event).is_none() {
        return Ok(Reply::json(
            400,
            json!({"detail": emu.profile.unknown_event(&fire.event)}),
        ));
    }
    if !serde_json::from_str::<serde_json::Value>(&fire.body).is_ok_and(|v| v.is_object()) {
        return Ok(Reply::json(
            400,
            json!({"detail": "the event body must be a JSON object"}),
        ));
    }
    let deliveries = emu
        .deliverer
        .fire(&fire.event, Bytes::from(fire.body))
        .await?;
    let fired: Vec<FiredDelivery> = deliveries.iter().map(FiredDelivery::from).collect();
    Ok(Reply::json(200, json!({ "deliveries": fired })))
}

/// Asks the emulator at `emulator` to send the event; returns the deliveries it made.
pub async fn fire(emulator: &Target, request: &FireRequest) -> anyhow::Result<Vec<FiredDelivery>> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let url = emulator.root().uri_for(PATH);
    let http_request = hyper::Request::post(&url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(request)?)))?;
    let response = client.request(http_request).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot reach the emulator at {url} ({e}); is `webhook-dev emulate` running there?"
        )
    })?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    let answer: serde_json::Value = serde_json::from_slice(&body).map_err(|_| {
        anyhow::anyhow!("{url} answered {status} without JSON; is it a `webhook-dev emulate`?")
    })?;
    if !status.is_success() {
        let detail = answer["detail"].as_str().unwrap_or("no reason given");
        anyhow::bail!("the emulator refused the event ({status}): {detail}");
    }
    Ok(serde_json::from_value(answer["deliveries"].clone())?)
}
