//! `webhook-dev trigger PROFILE EVENT`: send a provider's event as the provider would.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::checks::{Checks, Route};
use crate::cli::TriggerArgs;
use crate::engine::{Engine, EngineConfig, FixedAnswer};
use crate::forward::Forwarder;
use crate::inert;
use crate::output::humanize;
use crate::store::{Durability, Store};
use crate::trigger::{event_body, parse_schedule, trigger, TriggerPlan};

/// Sends the event, prints each attempt and the answer, and fails when every attempt failed or a
/// synchronous answer would not satisfy the provider.
pub async fn run(store_dir: &Path, args: TriggerArgs) -> anyhow::Result<()> {
    let config = super::setup::found_config(None)?;
    let (catalog, profile_name) = super::setup::catalog(config.as_ref(), Some(&args.profile))?;
    let profile_name = profile_name.unwrap_or(args.profile.clone());
    let profile = catalog.require(&profile_name)?;
    let event = profile.event(&args.event).ok_or_else(|| {
        let known: Vec<&str> = profile.events.iter().map(|e| e.name.as_str()).collect();
        anyhow::anyhow!(
            "{} has no event {:?}; its events: {}",
            profile.name,
            args.event,
            known.join(", ")
        )
    })?;
    if let Some(emulator) = &args.emulator {
        return through_emulator(profile, event, emulator, &args).await;
    }
    let secret = args
        .secret
        .as_deref()
        .map(crate::secrets::resolve)
        .transpose()?;
    let schedule = match &args.retry_schedule {
        Some(text) => parse_schedule(text).map_err(|e| anyhow::anyhow!("--retry-schedule: {e}"))?,
        None => profile.retry_schedule.clone(),
    };
    let timeout = match (args.timeout, event.synchronous, profile.answer_time_limit) {
        (Some(timeout), _, _) => timeout,
        (None, true, Some(limit)) => limit,
        (None, _, _) => Duration::from_secs(30),
    };
    let body = Bytes::from(event_body(profile, event, &args.set)?);
    let path = match args.to.base_path() {
        "" => "/".to_string(),
        base => base.to_string(),
    };
    let plan = TriggerPlan {
        profile,
        event,
        body,
        path,
        secret: secret.clone(),
        schedule,
    };

    let store = Store::open(store_dir, Durability::Process)?;
    let checks = Checks::new(
        catalog.clone(),
        vec![Route::everywhere(Some(profile.name.clone()), secret)],
    )?;
    let (events, _) = mpsc::unbounded_channel();
    let engine = Engine::new(
        store.clone(),
        EngineConfig {
            forwarder: Some(Forwarder::with_tls(
                args.to.root(),
                timeout,
                &args.handler_tls.tls(),
            )?),
            respond: FixedAnswer::default(),
            checks,
        },
        events,
    );

    let signing = match &plan.secret {
        Some(_) => format!("signed as {} signs", profile.name),
        None => "UNSIGNED: pass --secret to sign it".to_string(),
    };
    eprintln!(
        "trigger {} {} → {} ({signing})",
        profile.name, event.name, args.to
    );
    let attempts = trigger(&engine, &store, &plan, |attempt, number, next| {
        let result = match &attempt.exchange {
            Ok(exchange) => match &exchange.forward {
                Some(f) => format!(
                    "{} in {:.1} ms{}",
                    exchange.response.status,
                    f.duration_ms,
                    f.error
                        .as_ref()
                        .map(|e| format!(" ({})", inert::line(e)))
                        .unwrap_or_default()
                ),
                None => exchange.response.status.to_string(),
            },
            Err(err) => inert::line(err).into_owned(),
        };
        let next = next
            .map(|d| format!("; retrying in {}", humanize(d)))
            .unwrap_or_default();
        eprintln!("attempt {number}: {result}{next}");
    })
    .await;
    tokio::task::spawn_blocking(move || store.close()).await?;

    let last = attempts.last().expect("at least one attempt is made");
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&last.delivery)?)?;
    }
    if let Ok(exchange) = &last.exchange {
        if event.synchronous && !args.json {
            let answer = &exchange.response.body;
            let shown = crate::json_text::pretty_text(answer)
                .unwrap_or_else(|| String::from_utf8_lossy(answer).into_owned());
            writeln!(out, "{}", inert::text(&shown))?;
        }
    }
    for note in &last.answer.notes {
        eprintln!("answer: note: {}", inert::line(note));
    }
    for problem in &last.answer.problems {
        eprintln!("answer: {}", inert::line(problem));
    }
    if last.delivery.status != crate::delivery::DeliveryStatus::Success {
        if !last.answer.problems.is_empty() {
            return Err(crate::exit::Unsuccessful(format!(
                "{} would not accept this answer",
                profile.name
            ))
            .into());
        }
        return Err(crate::exit::Unsuccessful(format!(
            "{} attempt(s), none answered with 2xx",
            attempts.len()
        ))
        .into());
    }
    if profile.reads_answer(&event.name) {
        eprintln!("answer: matches what {} expects", profile.name);
    }
    Ok(())
}

/// `trigger --emulator URL`: the emulator sends the event to its subscriptions; prints each
/// delivery after its first attempt.
async fn through_emulator(
    profile: &crate::providers::Profile,
    event: &crate::providers::EventSpec,
    emulator: &crate::target::Target,
    args: &TriggerArgs,
) -> anyhow::Result<()> {
    use crate::emulate::control::{fire, FireRequest};
    let body = event_body(profile, event, &args.set)?;
    let request = FireRequest {
        profile: profile.name.clone(),
        event: event.name.clone(),
        body: String::from_utf8(body)?,
    };
    let deliveries = fire(emulator, &request).await?;
    if deliveries.is_empty() {
        eprintln!(
            "no active subscription of {} receives {}: nothing was sent",
            profile.name, event.name
        );
    }
    let mut out = std::io::stdout().lock();
    for d in &deliveries {
        if args.json {
            writeln!(out, "{}", serde_json::to_string(d)?)?;
            continue;
        }
        let outcome = match (d.response_status, &d.error_message) {
            (Some(status), _) => status.to_string(),
            (None, Some(error)) => inert::line(error).into_owned(),
            (None, None) => "no answer".into(),
        };
        let next = d
            .next_retry_at
            .as_deref()
            .map(|at| format!("; the emulator retries at {at}"))
            .unwrap_or_default();
        eprintln!(
            "{} → {} ({}): {outcome}, {}{next}",
            d.id,
            inert::line(&d.target),
            d.subscription,
            d.status
        );
    }
    Ok(())
}
