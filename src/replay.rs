//! Replays: send stored requests or fixtures again, exactly or re-signed, and log each attempt as
//! a delivery.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use chrono::Utc;
use rand::seq::SliceRandom;
use tokio::sync::{mpsc, Semaphore};

use crate::checks::{Checks, Route};
use crate::delivery::{Delivery, DeliveryStatus};
use crate::engine::{Engine, EngineConfig, FixedAnswer, RequestHead};
use crate::fixture::Fixture;
use crate::forward::Forwarder;
use crate::handler_tls::HandlerTls;
use crate::model::format_time;
use crate::model::{Exchange, HeaderList};
use crate::signature::{self, Scheme, Secret};
use crate::store::{Store, StoreReader, StoredRequest, WriteError};
use crate::target::Target;

/// Something to replay: a stored request or a fixture file.
#[derive(Clone, Debug)]
pub enum Source {
    /// A request from the store.
    Stored(Box<StoredRequest>),
    /// A fixture file.
    Fixture(Box<Fixture>, PathBuf),
}

impl Source {
    /// Reads each argument as a fixture file when such a file exists, else as a request id.
    pub fn load_all(reader: Option<&StoreReader>, args: &[String]) -> anyhow::Result<Vec<Source>> {
        args.iter()
            .map(|arg| {
                let path = Path::new(arg);
                if path.is_file() {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    let fixture = Fixture::parse(&text)
                        .with_context(|| format!("{} is not a fixture", path.display()))?;
                    return Ok(Source::Fixture(Box::new(fixture), path.to_path_buf()));
                }
                let reader = reader.ok_or_else(|| {
                    anyhow::anyhow!("{arg:?} is not a file, and there is no store to look it up in")
                })?;
                let stored = reader.get(arg)?.ok_or_else(|| {
                    anyhow::anyhow!("no request {arg:?} in the store and no such file")
                })?;
                Ok(Source::Stored(Box::new(stored)))
            })
            .collect()
    }

    /// The id of the original request, when it came from the store or names one.
    pub(crate) fn original_id(&self) -> Option<String> {
        match self {
            Source::Stored(s) => Some(s.summary.id.clone()),
            Source::Fixture(f, _) => f.id.clone(),
        }
    }

    /// The profile its signature was checked with, if known.
    pub(crate) fn profile(&self) -> Option<String> {
        match self {
            Source::Stored(s) => s.summary.signature.profile.clone(),
            Source::Fixture(f, _) => f.profile.clone(),
        }
    }

    /// Where the original was forwarded (the target without the request path), if it was.
    pub(crate) fn original_target(&self) -> Option<String> {
        match self {
            Source::Stored(s) => s.forward_base(),
            Source::Fixture(..) => None,
        }
    }

    /// What to send: the head (linked to the original) and the exact body.
    pub(crate) fn request(&self) -> anyhow::Result<(RequestHead, Bytes)> {
        match self {
            Source::Stored(s) => Ok((
                RequestHead {
                    peer: s.peer.as_deref().and_then(|p| p.parse::<SocketAddr>().ok()),
                    replay_of: Some(s.summary.id.clone()),
                    ..RequestHead::new(
                        s.summary.method.clone(),
                        s.summary.path.clone(),
                        s.headers.clone(),
                    )
                },
                s.body.clone(),
            )),
            Source::Fixture(f, _) => Ok((
                RequestHead {
                    replay_of: f.id.clone(),
                    ..RequestHead::new(f.method.clone(), f.path.clone(), f.header_list())
                },
                Bytes::from(f.body_bytes()?),
            )),
        }
    }

    /// How to name it in messages.
    pub(crate) fn label(&self) -> String {
        match self {
            Source::Stored(s) => s.summary.id.clone(),
            Source::Fixture(_, path) => path.display().to_string(),
        }
    }
}

/// What is known about a request to re-sign, for [`choose_resigner`].
pub(crate) struct ResignInputs<'a> {
    /// `--profile` as given.
    pub profile: Option<&'a str>,
    /// `--secret` as given, resolved.
    pub secret: Option<Secret>,
    /// The config route for the request's path.
    pub route: Option<&'a Route>,
    /// The profile the request was checked with when it was captured.
    pub recorded_profile: Option<&'a str>,
    /// The request's headers, whose signature headers may reveal its scheme.
    pub headers: Option<&'a HeaderList>,
}

/// Why a request cannot be re-signed; each caller words it for its own flags or keys.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ResignProblem {
    /// No profile given, routed, recorded or revealed by the headers.
    NoProfile,
    /// No secret given or routed.
    NoSecret,
    /// The profile chosen is not in the catalog.
    UnknownProfile(String),
}

/// The one policy for which profile and secret re-sign a request (`replay --resign`, the
/// inspector's `R` and `e`): the profile given, else the route's for its path, else the one it
/// was checked with, else the one its headers reveal; the secret given, else the route's. Returns
/// the profile's name with the re-signer.
pub(crate) fn choose_resigner(
    catalog: &crate::providers::Catalog,
    inputs: ResignInputs<'_>,
) -> Result<(String, Resigner), ResignProblem> {
    let secret = inputs
        .secret
        .or_else(|| inputs.route.and_then(|r| r.secret.clone()))
        .ok_or(ResignProblem::NoSecret)?;
    let name = inputs
        .profile
        .map(str::to_string)
        .or_else(|| inputs.route.and_then(|r| r.profile.clone()))
        .or_else(|| inputs.recorded_profile.map(str::to_string))
        .or_else(|| {
            inputs
                .headers
                .and_then(|h| signature::detect(h))
                .map(str::to_string)
        })
        .ok_or(ResignProblem::NoProfile)?;
    let profile = catalog
        .get(&name)
        .ok_or_else(|| ResignProblem::UnknownProfile(name.clone()))?;
    Ok((
        name,
        Resigner {
            scheme: profile.scheme.clone(),
            secret,
            new_id: false,
        },
    ))
}

/// Signs requests afresh with a scheme and secret.
#[derive(Clone, Debug)]
pub struct Resigner {
    /// The scheme to sign with.
    pub scheme: Scheme,
    /// The secret to sign with.
    pub secret: Secret,
    /// Mint a new message id instead of keeping the request's (Standard Webhooks: a resent
    /// message keeps its id, so handlers can de-duplicate on it).
    pub new_id: bool,
}

impl Resigner {
    /// Replaces the scheme's signature headers with a new signature over `body`, with a fresh
    /// timestamp (`now_unix`). Where the scheme signs a message id, the request's own is kept
    /// (a new one is minted when it has none, or with `new_id`).
    pub(crate) fn apply(
        &self,
        headers: &mut HeaderList,
        body: &[u8],
        now_unix: i64,
    ) -> anyhow::Result<()> {
        let kept = signature::message_id_header(&self.scheme)
            .filter(|_| !self.new_id)
            .and_then(|name| {
                headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(&name))
                    .and_then(|(_, v)| std::str::from_utf8(v).ok())
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned)
            });
        let msg_id = kept.unwrap_or_else(|| {
            format!("msg_{}", ulid::Ulid::new().to_string().to_ascii_lowercase())
        });
        let fresh = signature::sign(&self.scheme, &self.secret, body, &msg_id, now_unix)
            .map_err(|e| anyhow::anyhow!("cannot re-sign: {e}"))?;
        headers.retain(|(name, _)| !fresh.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)));
        headers.extend(fresh.into_iter().map(|(n, v)| (n, v.into_bytes())));
        Ok(())
    }
}

/// The head of a replay that sends `body`: its Content-Length (where it has one) set from the
/// body, so an edited body is sent whole, then re-signed with a fresh timestamp (`now_unix`) when
/// a re-signer is given.
pub fn replay_head(
    mut head: RequestHead,
    body: &[u8],
    resigner: Option<&Resigner>,
    now_unix: i64,
) -> anyhow::Result<RequestHead> {
    for (name, value) in head.headers.iter_mut() {
        if name.eq_ignore_ascii_case("content-length") {
            *value = body.len().to_string().into_bytes();
        }
    }
    if let Some(resigner) = resigner {
        resigner.apply(&mut head.headers, body, now_unix)?;
    }
    Ok(head)
}

/// How to replay.
#[derive(Clone)]
pub struct ReplayOptions {
    /// Send here instead of each request's original target.
    pub to: Option<Target>,
    /// Re-sign each request before sending.
    pub resign: Option<Resigner>,
    /// Send each request this many times.
    pub times: u32,
    /// At most this many in flight.
    pub concurrency: usize,
    /// Send in random order.
    pub shuffle: bool,
    /// Give up on an answer after this long.
    pub timeout: Duration,
    /// Trust for https:// handlers.
    pub tls: HandlerTls,
    /// What to verify on each replayed request.
    pub checks: Checks,
}

/// The outcome of one replay.
#[derive(Debug)]
pub struct ReplayOutcome {
    /// What was replayed.
    pub source: String,
    /// The new stored request and its answer.
    pub exchange: Exchange,
    /// The delivery recorded for it.
    pub delivery: Delivery,
}

impl ReplayOutcome {
    /// Whether the handler answered 2xx.
    pub fn succeeded(&self) -> bool {
        self.delivery.status == DeliveryStatus::Success
    }
}

/// Builds a delivery record for one attempt.
pub(crate) fn delivery_for(
    exchange: &Exchange,
    kind: &str,
    source_id: Option<String>,
    attempt_count: u32,
    created_at: String,
) -> Delivery {
    let forward = exchange.forward.as_ref();
    let failure = forward.and_then(|f| f.error.clone());
    let status = exchange.response.status;
    let answered = forward.is_some() && failure.is_none();
    let ok = answered && (200..300).contains(&status);
    let error_message = match (&failure, answered && !ok) {
        (Some(error), _) => Some(format!("the handler never answered: {error}")),
        (None, true) => Some(format!(
            "the handler answered {status}{}; only a 2xx counts as delivered",
            hyper::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .map(|r| format!(" {r}"))
                .unwrap_or_default()
        )),
        (None, false) => None,
    };
    Delivery {
        id: format!("dlv_{}", ulid::Ulid::new()),
        event_type: exchange.event_type.clone(),
        target: forward.map(|f| f.target.clone()).unwrap_or_default(),
        status: if ok {
            DeliveryStatus::Success
        } else {
            DeliveryStatus::Failed
        },
        attempt_count,
        // Our own 502/504 is not the handler's answer: a handler that never answered has none.
        response_status_code: answered.then_some(status),
        response_body: answered
            .then(|| String::from_utf8_lossy(&exchange.response.body).into_owned()),
        error_message,
        created_at,
        kind: kind.to_string(),
        request_id: Some(exchange.request.id.clone()),
        source_id,
    }
}

/// A request sent through an engine, and the delivery recorded for it.
#[derive(Debug)]
pub struct Sent {
    /// The stored request and its answer.
    pub exchange: Exchange,
    /// The delivery recorded; `None` when the engine forwarded nothing (it has no target), so
    /// nothing was delivered.
    pub delivery: Option<Delivery>,
    /// Whether the delivery record was written.
    pub logged: Result<(), WriteError>,
}

/// Sends a request through `engine` (which stores it, forwards it to its target and stores the
/// answer) and records the delivery that `record` makes of the exchange. Fails only when the
/// request could not be stored.
pub async fn send_and_log(
    engine: &Engine,
    head: RequestHead,
    body: Bytes,
    record: impl FnOnce(&Exchange) -> Delivery,
) -> Result<Sent, WriteError> {
    let exchange = engine.process(head, body).await?;
    if exchange.forward.is_none() {
        return Ok(Sent {
            exchange,
            delivery: None,
            logged: Ok(()),
        });
    }
    let delivery = record(&exchange);
    let logged = engine.store().save_delivery(delivery.clone()).await;
    Ok(Sent {
        exchange,
        delivery: Some(delivery),
        logged,
    })
}

/// Replays every source `times` times, at most `concurrency` at once; results in completion order.
/// Every source is read (and test-signed) before anything is sent; a re-signed request is signed
/// when its turn comes, so its timestamp is fresh however long the queue; one failure does not
/// stop the others.
pub async fn replay(
    store: &Store,
    sources: Vec<Source>,
    options: &ReplayOptions,
) -> anyhow::Result<Vec<ReplayOutcome>> {
    let mut plan = Vec::new();
    for source in &sources {
        let target = match (&options.to, source.original_target()) {
            (Some(to), _) => to.clone(),
            (None, Some(original)) => original.parse().with_context(|| {
                format!("the original target of {} cannot be used", source.label())
            })?,
            (None, None) => anyhow::bail!(
                "{} was never forwarded anywhere: say where to send it with --to TARGET",
                source.label()
            ),
        };
        let (head, body) = source.request()?;
        replay_head(head, &body, options.resign.as_ref(), Utc::now().timestamp())?;
        for _ in 0..options.times.max(1) {
            plan.push((source.clone(), target.clone()));
        }
    }
    if options.shuffle {
        plan.shuffle(&mut rand::rng());
    }
    let (events, _) = mpsc::unbounded_channel();
    let mut engines: HashMap<String, Arc<Engine>> = HashMap::new();
    let permits = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (source, target) in plan {
        let engine = match engines.get(&target.to_string()) {
            Some(engine) => engine.clone(),
            None => {
                let engine = Arc::new(Engine::new(
                    store.clone(),
                    EngineConfig {
                        forwarder: Some(Forwarder::with_tls(
                            target.clone(),
                            options.timeout,
                            &options.tls,
                        )?),
                        respond: FixedAnswer::default(),
                        checks: options.checks.clone(),
                    },
                    events.clone(),
                ));
                engines.insert(target.to_string(), engine.clone());
                engine
            }
        };
        let permits = permits.clone();
        let resigner = options.resign.clone();
        tasks.spawn(async move {
            let _permit = permits
                .acquire_owned()
                .await
                .expect("the semaphore stays open");
            let (head, body) = source.request()?;
            let head = replay_head(head, &body, resigner.as_ref(), Utc::now().timestamp())?;
            let sent = send_and_log(&engine, head, body, |exchange| {
                let created_at = format_time(&Utc::now());
                delivery_for(exchange, "replay", source.original_id(), 1, created_at)
            })
            .await?;
            sent.logged?;
            let delivery = sent
                .delivery
                .ok_or_else(|| anyhow::anyhow!("{} was not forwarded", source.label()))?;
            Ok::<_, anyhow::Error>(ReplayOutcome {
                source: source.label(),
                exchange: sent.exchange,
                delivery,
            })
        });
    }
    let mut outcomes = Vec::new();
    let mut failures = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(outcome)) => outcomes.push(outcome),
            Ok(Err(err)) => failures.push(format!("{err:#}")),
            Err(err) => failures.push(err.to_string()),
        }
    }
    if !failures.is_empty() {
        anyhow::bail!(
            "{} of {} replays could not be made (the other {} were sent and stored): {}",
            failures.len(),
            failures.len() + outcomes.len(),
            outcomes.len(),
            failures.join("; ")
        );
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_policy_picks_the_profile_and_secret_to_re_sign_with() {
        let catalog = crate::providers::Catalog::builtin();
        let route = Route::everywhere(Some("svix".into()), Some(Secret::new("whsec_route")));
        let headers: HeaderList = vec![("stripe-signature".into(), b"t=1,v1=00".to_vec())];
        let pick = |profile, secret: Option<&str>, route, recorded, headers| {
            let inputs = ResignInputs {
                profile,
                secret: secret.map(Secret::new),
                route,
                recorded_profile: recorded,
                headers,
            };
            choose_resigner(&catalog, inputs).map(|(name, _)| name)
        };
        let all = pick(
            Some("github"),
            Some("s"),
            Some(&route),
            Some("avala"),
            Some(&headers),
        );
        assert_eq!(all.unwrap(), "github", "the profile given comes first");
        let routed = pick(None, None, Some(&route), Some("avala"), Some(&headers));
        assert_eq!(routed.unwrap(), "svix", "then the route's, with its secret");
        let recorded = pick(None, Some("s"), None, Some("avala"), Some(&headers));
        assert_eq!(
            recorded.unwrap(),
            "avala",
            "then the one it was checked with"
        );
        let revealed = pick(None, Some("s"), None, None, Some(&headers));
        assert_eq!(
            revealed.unwrap(),
            "stripe",
            "then the one its headers reveal"
        );
        assert_eq!(
            pick(None, Some("s"), None, None, None),
            Err(ResignProblem::NoProfile)
        );
        assert_eq!(
            pick(Some("stripe"), None, None, None, None),
            Err(ResignProblem::NoSecret)
        );
        assert_eq!(
            pick(Some("nope"), Some("s"), None, None, None),
            Err(ResignProblem::UnknownProfile("nope".into()))
        );
    }

    #[test]
    fn a_replay_head_declares_the_length_of_its_body_and_is_re_signed() {
        let resigner = Resigner {
            scheme: Scheme::Github,
            secret: Secret::new("It's a Secret to Everybody"),
            new_id: false,
        };
        let headers = vec![
            ("content-length".to_string(), b"2".to_vec()),
            ("x-hub-signature-256".to_string(), b"sha256=old".to_vec()),
        ];
        let head = RequestHead::new("POST", "/hooks", headers.clone());
        let head = replay_head(head, b"Hello, World!", Some(&resigner), 0).unwrap();
        assert!(head
            .headers
            .contains(&("content-length".to_string(), b"13".to_vec())));
        assert!(head.headers.contains(&(
            "x-hub-signature-256".to_string(),
            b"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17".to_vec()
        )));
        let unsigned = replay_head(RequestHead::new("POST", "/", headers), b"{}", None, 0).unwrap();
        assert!(unsigned
            .headers
            .contains(&("x-hub-signature-256".to_string(), b"sha256=old".to_vec())));
    }

    #[tokio::test]
    async fn a_request_nothing_forwarded_is_stored_but_no_delivery_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), crate::store::Durability::Process).unwrap();
        let engine = Engine::new(
            store.clone(),
            EngineConfig {
                forwarder: None,
                respond: FixedAnswer::default(),
                checks: Checks::new(crate::providers::Catalog::builtin(), Vec::new()).unwrap(),
            },
            mpsc::unbounded_channel().0,
        );
        let head = RequestHead::new("POST", "/hooks", Vec::new());
        let sent = send_and_log(&engine, head, Bytes::from_static(b"{}"), |exchange| {
            delivery_for(exchange, "replay", None, 1, format_time(&Utc::now()))
        })
        .await
        .unwrap();
        assert!(sent.delivery.is_none());
        assert!(sent.logged.is_ok());
        let closing = store.clone();
        tokio::task::spawn_blocking(move || closing.close())
            .await
            .unwrap();
        let reader = StoreReader::open(dir.path()).unwrap();
        assert!(reader.get(&sent.exchange.request.id).unwrap().is_some());
        assert!(reader.deliveries(None).unwrap().is_empty());
    }

    #[test]
    fn resigning_replaces_the_signature_headers() {
        let resigner = Resigner {
            scheme: Scheme::Github,
            secret: Secret::new("It's a Secret to Everybody"),
            new_id: false,
        };
        let mut headers = vec![
            ("x-hub-signature-256".to_string(), b"sha256=old".to_vec()),
            ("content-type".to_string(), b"application/json".to_vec()),
        ];
        resigner.apply(&mut headers, b"Hello, World!", 0).unwrap();
        // GitHub's documented example ("Validating webhook deliveries").
        assert!(headers.contains(&(
            "x-hub-signature-256".to_string(),
            b"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17".to_vec()
        )));
        assert_eq!(
            headers
                .iter()
                .filter(|(n, _)| n == "x-hub-signature-256")
                .count(),
            1
        );
        assert!(headers.iter().any(|(n, _)| n == "content-type"));
    }
}
