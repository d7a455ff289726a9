//! Delivers events to subscriptions as the provider does: signed with each subscription's
//! secret, retried on the schedule (the schedule's state lives in the store, so a restart picks
//! pending retries up), every attempt recorded, and for Avala a webhook that failed every
//! attempt turned off.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use super::deliveries::{AttemptRecord, EmulatedDelivery};
use super::log::{AttemptLine, Log};
use super::subscriptions::Subscription;
use super::{EmulatorDb, Provider};
use crate::checks::{Checks, Route};
use crate::delivery::{Delivery, DeliveryStatus};
use crate::engine::{Engine, EngineConfig, FixedAnswer, RequestHead};
use crate::forward::Forwarder;
use crate::handler_tls::HandlerTls;
use crate::model::format_time;
use crate::providers::{Catalog, Profile};
use crate::replay::delivery_for;
use crate::store::Store;
use crate::target::Target;
use crate::trigger::{signed_headers, unsigned_headers, TriggerPlan};

/// How deliveries are made.
pub struct DeliverySettings {
    /// The provider emulated.
    pub provider: Provider,
    /// Its profile (scheme, events, samples).
    pub profile: Profile,
    /// The catalog the profile comes from (for checking what is sent).
    pub catalog: Catalog,
    /// Delays between attempts.
    pub schedule: Vec<Duration>,
    /// How long a handler may take to answer.
    pub timeout: Duration,
    /// Trust for https:// targets.
    pub tls: HandlerTls,
}

/// Sends deliveries and schedules their retries; cheap to clone.
#[derive(Clone)]
pub struct Deliverer {
    inner: Arc<Inner>,
}

struct Inner {
    settings: DeliverySettings,
    db: EmulatorDb,
    store: Store,
    log: Log,
    forwarders: Mutex<HashMap<String, Forwarder>>,
}

/// Splits a subscription's target URL into the root the forwarder connects to and the path
/// (with query) each request is sent to.
pub fn split_target(url: &str) -> anyhow::Result<(Target, String)> {
    let uri: hyper::Uri = url.parse()?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        anyhow::bail!("{url:?} is not an absolute http:// or https:// URL");
    };
    let root: Target = format!("{scheme}://{authority}").parse()?;
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/".into());
    Ok((root, path))
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl Deliverer {
    /// A deliverer recording in `db` (the emulator's tables) and `store` (requests and the
    /// `deliveries list` log).
    pub fn new(settings: DeliverySettings, db: EmulatorDb, store: Store, log: Log) -> Deliverer {
        Deliverer {
            inner: Arc::new(Inner {
                settings,
                db,
                store,
                log,
                forwarders: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn provider(&self) -> &'static str {
        self.inner.settings.provider.name()
    }

    /// Attempts in all, the first included.
    fn total_attempts(&self) -> u32 {
        self.inner.settings.schedule.len() as u32 + 1
    }

    fn new_delivery(
        sub: &Subscription,
        event_type: &str,
        payload: Bytes,
        is_test: bool,
    ) -> EmulatedDelivery {
        let now = format_time(&Utc::now());
        EmulatedDelivery {
            id: format!("whd_{}", ulid::Ulid::new().to_string().to_ascii_lowercase()),
            subscription: sub.id.clone(),
            event_type: event_type.to_string(),
            is_test,
            msg_id: format!("msg_{}", ulid::Ulid::new().to_string().to_ascii_lowercase()),
            status: DeliveryStatus::Pending,
            attempts: 0,
            target: sub.target_url.clone(),
            response_status: None,
            response_body: None,
            error_message: None,
            next_retry_at: Some(now.clone()),
            created_at: now.clone(),
            updated_at: now,
            payload,
        }
    }

    /// Sends `payload` (an event of type `event_type`) to every active subscription of that
    /// event: records one delivery each, makes the first attempts (at once, together) and
    /// schedules the retries. Returns the deliveries after their first attempt.
    pub async fn fire(
        &self,
        event_type: &str,
        payload: Bytes,
    ) -> anyhow::Result<Vec<EmulatedDelivery>> {
        let subscribers: Vec<Subscription> = self
            .inner
            .db
            .all_subscriptions(self.provider())
            .await?
            .into_iter()
            .filter(|sub| sub.receives(event_type))
            .collect();
        let deliveries: Vec<EmulatedDelivery> = subscribers
            .iter()
            .map(|sub| Self::new_delivery(sub, event_type, payload.clone(), false))
            .collect();
        self.inner
            .db
            .insert_deliveries(self.provider(), deliveries.clone())
            .await?;
        let attempted =
            futures_util::future::join_all(deliveries.into_iter().map(|d| self.attempt(d))).await;
        let mut after = Vec::new();
        for delivery in attempted {
            let delivery = delivery?;
            if delivery.status == DeliveryStatus::Pending {
                self.spawn_retries(delivery.clone());
            }
            after.push(delivery);
        }
        Ok(after)
    }

    /// Sends a test event to `sub` (active or not): one attempt, never retried, recorded like
    /// any delivery.
    pub async fn test(
        &self,
        sub: &Subscription,
        event_type: &str,
        payload: Bytes,
    ) -> anyhow::Result<EmulatedDelivery> {
        let delivery = Self::new_delivery(sub, event_type, payload, true);
        self.inner
            .db
            .insert_deliveries(self.provider(), vec![delivery.clone()])
            .await?;
        self.attempt(delivery).await
    }

    /// Picks up the deliveries the store says are pending: each retry is made when it is due
    /// (at once when it fell due while the emulator was stopped). Returns how many.
    pub async fn resume(&self) -> anyhow::Result<usize> {
        let pending = self.inner.db.pending_deliveries(self.provider()).await?;
        let count = pending.len();
        for delivery in pending {
            self.spawn_retries(delivery);
        }
        Ok(count)
    }

    fn spawn_retries(&self, mut delivery: EmulatedDelivery) {
        let deliverer = self.clone();
        tokio::spawn(async move {
            while delivery.status == DeliveryStatus::Pending {
                let due = delivery.next_retry_at.as_deref().and_then(parse_time);
                if let Some(wait) = due.and_then(|due| (due - Utc::now()).to_std().ok()) {
                    tokio::time::sleep(wait).await;
                }
                delivery = match deliverer.attempt(delivery.clone()).await {
                    Ok(delivery) => delivery,
                    Err(err) => {
                        tracing::error!(id = %delivery.id, "retry not made: {err:#}");
                        return;
                    }
                };
            }
        });
    }

    fn forwarder(&self, root: &Target) -> anyhow::Result<Forwarder> {
        let key = root.to_string();
        let mut forwarders = crate::sync::lock(&self.inner.forwarders);
        if let Some(forwarder) = forwarders.get(&key) {
            return Ok(forwarder.clone());
        }
        let settings = &self.inner.settings;
        let forwarder = Forwarder::with_tls(root.clone(), settings.timeout, &settings.tls)?;
        forwarders.insert(key, forwarder.clone());
        Ok(forwarder)
    }

    /// Sends `sub` the delivery's payload once, signed with its secret, through an engine (so
    /// the request and the handler's answer are stored like any other).
    async fn send(
        &self,
        sub: &Subscription,
        delivery: &EmulatedDelivery,
        number: u32,
    ) -> Result<Delivery, String> {
        let settings = &self.inner.settings;
        let event = settings
            .profile
            .event(&delivery.event_type)
            .ok_or_else(|| settings.profile.unknown_event(&delivery.event_type))?;
        let (root, path) = split_target(&sub.target_url).map_err(|e| e.to_string())?;
        let plan = TriggerPlan {
            profile: &settings.profile,
            event,
            body: delivery.payload.clone(),
            path: path.clone(),
            secret: Some(sub.secret.clone()),
            schedule: Vec::new(),
        };
        let headers = signed_headers(
            &plan,
            &unsigned_headers(&plan, &delivery.msg_id),
            &delivery.msg_id,
        )?;
        let checks = Checks::new(
            settings.catalog.clone(),
            vec![Route::everywhere(
                Some(settings.profile.name.clone()),
                Some(sub.secret.clone()),
            )],
        )
        .map_err(|e| e.to_string())?;
        let engine = Engine::new(
            self.inner.store.clone(),
            EngineConfig {
                forwarder: Some(self.forwarder(&root).map_err(|e| format!("{e:#}"))?),
                respond: FixedAnswer::default(),
                checks,
            },
            mpsc::unbounded_channel().0,
        );
        let exchange = engine
            .process(
                RequestHead::new("POST", path, headers),
                delivery.payload.clone(),
            )
            .await
            .map_err(|e| format!("the attempt could not be recorded: {e}"))?;
        Ok(delivery_for(
            &exchange,
            "emulate",
            None,
            number,
            delivery.created_at.clone(),
        ))
    }

    /// Makes the delivery's next attempt and records it: the delivery is then a success, failed
    /// for good, or pending with its next retry's time.
    async fn attempt(&self, mut delivery: EmulatedDelivery) -> anyhow::Result<EmulatedDelivery> {
        let provider = self.provider();
        let now = Utc::now();
        let sub = self
            .inner
            .db
            .subscription(provider, &delivery.subscription)
            .await?;
        let sub = match sub {
            Some(sub) if sub.is_active || delivery.is_test => sub,
            gone => {
                delivery.status = DeliveryStatus::Failed;
                delivery.next_retry_at = None;
                delivery.updated_at = format_time(&now);
                delivery.error_message = Some(match gone {
                    None => "the webhook was deleted; no more attempts".into(),
                    Some(_) => "the webhook is disabled; no more attempts".into(),
                });
                self.inner
                    .db
                    .finish_delivery(provider, delivery.clone())
                    .await?;
                self.mirror(&delivery, None).await;
                return Ok(delivery);
            }
        };
        let number = delivery.attempts + 1;
        let sent = self.send(&sub, &delivery, number).await;
        let (status, request_id) = match &sent {
            Ok(outcome) => {
                delivery.response_status = outcome.response_status_code;
                delivery.response_body = outcome.response_body.clone();
                delivery.error_message = outcome.error_message.clone();
                (outcome.status, outcome.request_id.clone())
            }
            Err(error) => {
                delivery.response_status = None;
                delivery.response_body = None;
                delivery.error_message = Some(error.clone());
                (DeliveryStatus::Failed, None)
            }
        };
        let finished = Utc::now();
        delivery.attempts = number;
        delivery.target = sub.target_url.clone();
        delivery.updated_at = format_time(&finished);
        let retry_in = (status == DeliveryStatus::Failed && !delivery.is_test)
            .then(|| self.inner.settings.schedule.get(number as usize - 1))
            .flatten();
        (delivery.status, delivery.next_retry_at) = match retry_in {
            Some(delay) => (
                DeliveryStatus::Pending,
                Some(format_time(
                    &(finished + chrono::Duration::from_std(*delay).unwrap_or_default()),
                )),
            ),
            None => (status, None),
        };
        let disable = (self.inner.settings.provider.disables_failing_webhooks()
            && delivery.status == DeliveryStatus::Failed
            && !delivery.is_test
            && number == self.total_attempts())
        .then(|| sub.id.clone());
        self.inner
            .db
            .record_attempt(
                provider,
                delivery.clone(),
                AttemptRecord {
                    number,
                    attempted_at: format_time(&now),
                    target: sub.target_url.clone(),
                    response_status: delivery.response_status,
                    error_message: delivery.error_message.clone(),
                    request_id: request_id.clone(),
                },
                disable.clone(),
            )
            .await?;
        self.mirror(&delivery, request_id).await;
        self.inner.log.attempt(&AttemptLine {
            delivery: &delivery.id,
            subscription: &sub.id,
            event_type: &delivery.event_type,
            number,
            target: &sub.target_url,
            response_status: delivery.response_status,
            error: delivery.error_message.as_deref(),
            status: delivery.status.as_str(),
            next_retry_at: delivery.next_retry_at.as_deref(),
        });
        if let Some(id) = disable {
            self.inner.log.disabled(&id, &delivery.id, number);
        }
        Ok(delivery)
    }

    /// Keeps `deliveries list` in step with the emulator's log.
    async fn mirror(&self, delivery: &EmulatedDelivery, request_id: Option<String>) {
        let record = Delivery {
            id: delivery.id.clone(),
            event_type: Some(delivery.event_type.clone()),
            target: delivery.target.clone(),
            status: delivery.status,
            attempt_count: delivery.attempts,
            response_status_code: delivery.response_status,
            response_body: delivery.response_body.clone(),
            error_message: delivery.error_message.clone(),
            created_at: delivery.created_at.clone(),
            kind: format!("emulate {}", self.provider()),
            request_id,
            source_id: None,
        };
        if let Err(err) = self.inner.store.save_delivery(record).await {
            tracing::error!("delivery not recorded for deliveries list: {err}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_split_into_root_and_path() {
        let (root, path) = split_target("http://127.0.0.1:3000/hooks/avala?x=1").unwrap();
        assert_eq!(root.to_string(), "http://127.0.0.1:3000");
        assert_eq!(path, "/hooks/avala?x=1");
        let (_, path) = split_target("https://example.test").unwrap();
        assert_eq!(path, "/");
        assert!(split_target("/relative").is_err());
    }
}
