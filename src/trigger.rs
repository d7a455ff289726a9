//! `trigger`: be the provider — send a profile's sample event, filled with fresh ids, signed as
//! the provider signs, retried on the provider's schedule, each attempt logged as a delivery.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;

use crate::delivery::{Delivery, DeliveryStatus};
use crate::engine::{Engine, RequestHead};
use crate::model::format_time;
use crate::model::Exchange;
use crate::providers::{fresh_sample, set_field, EventSpec, Fill, Profile, SchemaCheck};
use crate::replay::{delivery_for, send_and_log, Sent};
use crate::signature::{self, Secret};
use crate::store::Store;

/// Parses `1m,5m,15m,1h` (or `0.2s,0.2s`, or `none`) into delays between attempts.
pub(crate) fn parse_schedule(text: &str) -> Result<Vec<Duration>, String> {
    let text = text.trim();
    if text.is_empty() || text == "none" {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|part| crate::output::parse_duration(part.trim()))
        .collect()
}

/// The body of the event to send: a fresh sample with `--set` assignments applied.
pub fn event_body(
    profile: &Profile,
    event: &EventSpec,
    sets: &[String],
) -> anyhow::Result<Vec<u8>> {
    let mut payload = fresh_sample(profile, event, &mut rand::rng());
    for assignment in sets {
        set_field(&mut payload, assignment)
            .map_err(|e| anyhow::anyhow!("--set {assignment}: {e}"))?;
    }
    Ok(serde_json::to_vec(&payload)?)
}

/// One attempt's outcome, as the retry loop sees it.
pub(crate) trait Attempt {
    /// Whether the provider would count this attempt as delivered.
    fn delivered(&self) -> bool;
}

/// Runs `attempt` until one is delivered or the schedule runs out, sleeping the schedule's
/// delays in between; `after` sees each attempt with its number and the delay before the next
/// one (`None` when this was the last). Returns every attempt.
pub(crate) async fn with_retries<T, F, Fut>(
    schedule: &[Duration],
    mut attempt: F,
    mut after: impl FnMut(&T, u32, Option<Duration>),
) -> Vec<T>
where
    T: Attempt,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = T>,
{
    let mut attempts = Vec::new();
    for number in 1..=schedule.len() as u32 + 1 {
        let outcome = attempt(number).await;
        let next = (!outcome.delivered())
            .then(|| schedule.get(number as usize - 1).copied())
            .flatten();
        after(&outcome, number, next);
        attempts.push(outcome);
        match next {
            Some(delay) => tokio::time::sleep(delay).await,
            None => break,
        }
    }
    attempts
}

/// What to send and how.
pub struct TriggerPlan<'a> {
    /// The provider.
    pub profile: &'a Profile,
    /// The event.
    pub event: &'a EventSpec,
    /// The body bytes (already filled and edited).
    pub body: Bytes,
    /// The request path.
    pub path: String,
    /// The signing secret; unsigned without one.
    pub secret: Option<Secret>,
    /// Delays between attempts.
    pub schedule: Vec<Duration>,
}

/// One attempt: the exchange (or why nothing was sent) and the delivery as it stood after it.
#[derive(Debug)]
pub struct TriggerAttempt {
    /// The stored request and its answer, or why the attempt could not be made.
    pub exchange: Result<Exchange, String>,
    /// What the provider would make of the answer (problems fail the delivery; notes do not).
    pub answer: SchemaCheck,
    /// The delivery record after this attempt.
    pub delivery: Delivery,
}

/// What the provider would make of the handler's answer to the event: its status, its body
/// against the event's answer schema and echoes, and for a synchronous event the time it took.
pub(crate) fn judge_answer(
    profile: &Profile,
    event: &EventSpec,
    exchange: &Exchange,
) -> SchemaCheck {
    let Some(forward) = exchange.forward.as_ref().filter(|f| f.error.is_none()) else {
        return SchemaCheck::default();
    };
    if !profile.reads_answer(&event.name) {
        return SchemaCheck::default();
    }
    let mut check = profile.check_answer(
        &event.name,
        exchange.response.status,
        &exchange.response.body,
        &exchange.request.body,
    );
    if let (true, Some(limit)) = (event.synchronous, profile.answer_time_limit) {
        let took = Duration::from_secs_f64(forward.duration_ms / 1000.0);
        if took > limit {
            let problem = format!(
                "answered in {:.1} ms; {} waits at most {}",
                forward.duration_ms,
                profile.name,
                crate::output::humanize(limit)
            );
            if event.soft_synchronous {
                check
                    .notes
                    .push(format!("{problem}, then takes the answer as empty"));
            } else {
                check.problems.push(problem);
            }
        }
    }
    check
}

impl Attempt for TriggerAttempt {
    fn delivered(&self) -> bool {
        self.delivery.status == DeliveryStatus::Success
    }
}

/// The headers every attempt of one event carries besides its signature: the content type, the
/// event header, the provider's `send_headers` (filled once, so ids stay the same across
/// retries) and a user agent unless the provider names its own.
pub(crate) fn unsigned_headers(plan: &TriggerPlan<'_>, msg_id: &str) -> Vec<(String, String)> {
    let body = serde_json::from_slice::<serde_json::Value>(&plan.body).ok();
    let fill = Fill {
        event: &plan.event.name,
        msg_id,
        body: body.as_ref(),
        now: Utc::now(),
    };
    let mut headers = plan.profile.request_headers(&plan.event.name);
    for (name, value) in plan
        .profile
        .send_headers(plan.event, &fill, &mut rand::rng())
    {
        headers.retain(|(n, _)| *n != name);
        headers.push((name, value));
    }
    if !headers.iter().any(|(n, _)| n == "user-agent") {
        headers.push((
            "user-agent".into(),
            format!("webhook-dev-trigger/{}", env!("CARGO_PKG_VERSION")),
        ));
    }
    headers
}

/// `unsigned` plus the signature headers over the plan's body, signed now with its secret.
pub(crate) fn signed_headers(
    plan: &TriggerPlan<'_>,
    unsigned: &[(String, String)],
    msg_id: &str,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut headers: Vec<(String, Vec<u8>)> = unsigned
        .iter()
        .map(|(n, v)| (n.clone(), v.clone().into_bytes()))
        .collect();
    if let Some(secret) = &plan.secret {
        let signed = signature::sign(
            &plan.profile.scheme,
            secret,
            &plan.body,
            msg_id,
            Utc::now().timestamp(),
        )
        .map_err(|e| format!("cannot sign: {e}"))?;
        headers.extend(signed.into_iter().map(|(n, v)| (n, v.into_bytes())));
    }
    Ok(headers)
}

/// The delivery record of an attempt that sent nothing, failed with `error`.
fn unsent_delivery(number: u32, error: &str, created_at: String) -> Delivery {
    Delivery {
        id: String::new(),
        event_type: None,
        target: String::new(),
        status: DeliveryStatus::Failed,
        attempt_count: number,
        response_status_code: None,
        response_body: None,
        error_message: Some(error.to_owned()),
        created_at,
        kind: "trigger".into(),
        request_id: None,
        source_id: None,
    }
}

/// Sends the event through `engine` (which forwards it to the target and stores each attempt),
/// retrying on the plan's schedule, and keeps one delivery record up to date: `pending` while a
/// retry is due, then `success` or `failed`. `report` sees each attempt and the next delay.
pub async fn trigger(
    engine: &Engine,
    store: &Store,
    plan: &TriggerPlan<'_>,
    report: impl FnMut(&TriggerAttempt, u32, Option<Duration>),
) -> Vec<TriggerAttempt> {
    let msg_id = format!("msg_{}", ulid::Ulid::new().to_string().to_ascii_lowercase());
    let created_at = format_time(&Utc::now());
    let delivery_id = format!("dlv_{}", ulid::Ulid::new());
    let total = plan.schedule.len() as u32 + 1;
    let unsigned = unsigned_headers(plan, &msg_id);
    with_retries(
        &plan.schedule,
        |number| {
            let headers = signed_headers(plan, &unsigned, &msg_id);
            let (delivery_id, created_at) = (delivery_id.clone(), created_at.clone());
            async move {
                // One record for every attempt: pending while a retry is due.
                let settle = |mut delivery: Delivery, answer: &SchemaCheck| {
                    delivery.id = delivery_id.clone();
                    delivery.event_type = Some(plan.event.name.clone());
                    if delivery.status == DeliveryStatus::Success && !answer.problems.is_empty() {
                        delivery.status = DeliveryStatus::Failed;
                        delivery.error_message = Some(format!(
                            "{} would not accept the answer: {}",
                            plan.profile.name,
                            answer.problems.join("; ")
                        ));
                    }
                    if delivery.status == DeliveryStatus::Failed && number < total {
                        delivery.status = DeliveryStatus::Pending;
                    }
                    delivery
                };
                let mut answer = SchemaCheck::default();
                let sent = match headers {
                    Ok(headers) => {
                        let head = RequestHead::new("POST", plan.path.clone(), headers);
                        let record = |exchange: &Exchange| {
                            answer = judge_answer(plan.profile, plan.event, exchange);
                            let delivery =
                                delivery_for(exchange, "trigger", None, number, created_at.clone());
                            settle(delivery, &answer)
                        };
                        send_and_log(engine, head, plan.body.clone(), record)
                            .await
                            .map_err(|e| e.to_string())
                    }
                    Err(err) => Err(err),
                };
                let (exchange, delivery, logged) = match sent {
                    Ok(Sent {
                        exchange,
                        delivery: Some(delivery),
                        logged,
                    }) => (Ok(exchange), delivery, logged),
                    unsent => {
                        let err = match unsent {
                            Err(err) => err,
                            Ok(_) => "nothing was forwarded: the engine has no target".into(),
                        };
                        let delivery = settle(unsent_delivery(number, &err, created_at), &answer);
                        let logged = store.save_delivery(delivery.clone()).await;
                        (Err(err), delivery, logged)
                    }
                };
                if let Err(err) = logged {
                    tracing::error!("delivery not recorded: {err}");
                }
                TriggerAttempt {
                    exchange,
                    answer,
                    delivery,
                }
            }
        },
        report,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake(bool);

    impl Attempt for Fake {
        fn delivered(&self) -> bool {
            self.0
        }
    }

    #[test]
    fn schedules_parse() {
        assert_eq!(
            parse_schedule("1m,5m,15m,1h").unwrap(),
            vec![
                Duration::from_secs(60),
                Duration::from_secs(300),
                Duration::from_secs(900),
                Duration::from_secs(3600)
            ]
        );
        assert_eq!(
            parse_schedule("0.2, 0.2s").unwrap(),
            vec![Duration::from_millis(200); 2]
        );
        assert!(parse_schedule("none").unwrap().is_empty());
        assert!(parse_schedule("1m,soon").is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn failed_attempts_are_retried_on_the_schedule_then_given_up() {
        let schedule = parse_schedule("1m,5m,15m,1h").unwrap();
        let started = tokio::time::Instant::now();
        let mut seen = Vec::new();
        let attempts = with_retries(
            &schedule,
            |_| async { Fake(false) },
            |_, n, next| seen.push((n, next)),
        )
        .await;
        assert_eq!(attempts.len(), 5);
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(60 + 300 + 900 + 3600)
        );
        assert_eq!(seen.last(), Some(&(5, None)));
        assert_eq!(seen[0], (1, Some(Duration::from_secs(60))));
    }

    #[tokio::test(start_paused = true)]
    async fn retrying_stops_at_the_first_delivery() {
        let schedule = parse_schedule("1m,5m,15m,1h").unwrap();
        let started = tokio::time::Instant::now();
        let attempts = with_retries(&schedule, |n| async move { Fake(n == 3) }, |_, _, _| {}).await;
        assert_eq!(attempts.len(), 3);
        assert_eq!(started.elapsed(), Duration::from_secs(60 + 300));
    }

    #[tokio::test(start_paused = true)]
    async fn no_schedule_means_one_attempt() {
        let attempts = with_retries(&[], |_| async { Fake(false) }, |_, _, _| {}).await;
        assert_eq!(attempts.len(), 1);
    }
}
