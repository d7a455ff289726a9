//! `webhook-dev replay ID|FILE...`.

use std::io::{IsTerminal, Write};
use std::path::Path;

use crate::checks::{Checks, Route};
use crate::cli::ReplayArgs;
use crate::inert;
use crate::output::human_line;
use crate::providers::Catalog;
use crate::replay::{
    choose_resigner, replay, ReplayOptions, ResignInputs, ResignProblem, Resigner, Source,
};
use crate::store::{Durability, Store, StoreReader};
use crate::summary::RequestSummary;

/// Builds the re-signer for `--resign` by the one policy ([`choose_resigner`]), so that
/// `replay --resign` finds what `listen` used from the same webhook-dev.toml.
pub fn resigner_for(
    catalog: &Catalog,
    profile: Option<&str>,
    sources: &[Source],
    secret: Option<&str>,
    route: Option<&Route>,
) -> anyhow::Result<Resigner> {
    let first_headers = match sources.first().map(Source::request).transpose()? {
        Some((head, _)) => Some(head.headers),
        None => None,
    };
    let recorded = sources.iter().find_map(Source::profile);
    let inputs = ResignInputs {
        profile,
        secret: secret.map(crate::secrets::resolve).transpose()?,
        route,
        recorded_profile: recorded.as_deref(),
        headers: first_headers.as_ref(),
    };
    match choose_resigner(catalog, inputs) {
        Ok((_, resigner)) => Ok(resigner),
        Err(ResignProblem::NoSecret) => anyhow::bail!(
            "--resign needs --secret (a literal, env:VAR or file:PATH), or a config route with a secret for this path"
        ),
        Err(ResignProblem::NoProfile) => anyhow::bail!(
            "--resign needs a profile: none was recorded for these requests, no config route names one and their headers show no known scheme, so pass --profile NAME"
        ),
        Err(ResignProblem::UnknownProfile(name)) => Err(catalog.require(&name).unwrap_err().into()),
    }
}

/// Replays, prints one line (or JSON summary) per replay, and fails when any answer was not 2xx.
pub async fn run(store_dir: &Path, args: ReplayArgs) -> anyhow::Result<()> {
    let reader = StoreReader::open(store_dir).ok();
    let sources = Source::load_all(reader.as_ref(), &args.sources)?;
    let configured = super::setup::checks(
        args.config.as_deref(),
        args.profile.as_deref(),
        None,
        args.timeout,
        &args.handler_tls.tls(),
    )?;
    let catalog = configured.catalog().clone();
    let profile = args
        .profile
        .as_deref()
        .map(|p| super::setup::catalog(None, Some(p)).map(|(_, name)| name))
        .transpose()?
        .flatten();
    let first_path = match sources.first().map(Source::request).transpose()? {
        Some((head, _)) => head.path,
        None => String::new(),
    };
    let route = configured
        .route_for(&first_path)
        .filter(|r| r.profile.is_some() || r.secret.is_some());
    let resign = if args.resign {
        Some(Resigner {
            new_id: args.new_id,
            ..resigner_for(
                &catalog,
                profile.as_deref(),
                &sources,
                args.secret.as_deref(),
                route,
            )?
        })
    } else {
        None
    };
    let checks = match &resign {
        Some(resigner) => {
            let profile = profile
                .or_else(|| route.and_then(|r| r.profile.clone()))
                .or_else(|| sources.iter().find_map(Source::profile));
            Checks::new(
                catalog,
                vec![Route::everywhere(profile, Some(resigner.secret.clone()))],
            )?
        }
        None => configured,
    };
    let options = ReplayOptions {
        to: args.to,
        resign,
        times: args.times,
        concurrency: args.concurrency,
        shuffle: args.shuffle,
        timeout: args.timeout,
        tls: args.handler_tls.tls(),
        checks,
    };
    let store = Store::open(store_dir, Durability::Process)?;
    let outcomes = replay(&store, sources, &options).await;
    let closing = store.clone();
    tokio::task::spawn_blocking(move || closing.close()).await?;
    let outcomes = outcomes?;
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut out = std::io::stdout().lock();
    for outcome in &outcomes {
        let summary = RequestSummary::from_exchange(&outcome.exchange);
        if args.json {
            writeln!(out, "{}", serde_json::to_string(&summary)?)?;
        } else {
            writeln!(
                out,
                "{}  ↻ {}",
                human_line(&summary, colour, true),
                inert::line(&outcome.source)
            )?;
        }
    }
    let failed = outcomes.iter().filter(|o| !o.succeeded()).count();
    if failed > 0 {
        return Err(crate::exit::Unsuccessful(format!(
            "{failed} of {} replays were not answered with 2xx",
            outcomes.len()
        ))
        .into());
    }
    Ok(())
}
