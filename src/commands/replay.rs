//! `webhook-dev replay ID|FILE...`.

use std::io::{IsTerminal, Write};
use std::path::Path;

use crate::checks::{Checks, Route};
use crate::cli::ReplayArgs;
use crate::inert;
use crate::model::HeaderList;
use crate::output::human_line;
use crate::providers::Catalog;
use crate::replay::{
    choose_resigner, replay, ReplayOptions, ResignInputs, ResignProblem, Resigner, Source,
};
use crate::store::{Durability, Store, StoreReader};
use crate::summary::RequestSummary;

/// Builds the re-signer for `--resign` by the one policy ([`choose_resigner`]), so that
/// `replay --resign` finds what `listen` used from the same webhook-dev.toml; returns the name of
/// the profile it signs as with it. `first_headers` are those of the first request replayed.
pub fn resigner_for(
    catalog: &Catalog,
    profile: Option<&str>,
    sources: &[Source],
    first_headers: Option<&HeaderList>,
    secret: Option<&str>,
    route: Option<&Route>,
) -> anyhow::Result<(String, Resigner)> {
    let recorded = sources.iter().find_map(Source::profile);
    let inputs = ResignInputs {
        profile,
        secret: secret.map(crate::secrets::resolve).transpose()?,
        route,
        recorded_profile: recorded.as_deref(),
        headers: first_headers,
    };
    match choose_resigner(catalog, inputs) {
        Ok(chosen) => Ok(chosen),
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
        args.signing.config.as_deref(),
        args.signing.profile.as_deref(),
        None,
        args.timeout,
        &args.handler_tls.tls(),
    )?;
    let catalog = configured.catalog().clone();
    let profile = args
        .signing
        .profile
        .as_deref()
        .map(|p| super::setup::catalog(None, Some(p)).map(|(_, name)| name))
        .transpose()?
        .flatten();
    let first = sources.first().map(Source::request).transpose()?;
    let first_path = first.as_ref().map_or("", |(head, _)| head.path.as_str());
    let route = configured
        .route_for(first_path)
        .filter(|r| r.profile.is_some() || r.secret.is_some());
    let resign = if args.resign {
        let (name, resigner) = resigner_for(
            &catalog,
            profile.as_deref(),
            &sources,
            first.as_ref().map(|(head, _)| &head.headers),
            args.signing.secret.as_deref(),
            route,
        )?;
        Some((
            name,
            Resigner {
                new_id: args.new_id,
                ..resigner
            },
        ))
    } else {
        None
    };
    // A re-signed replay is checked with the profile and secret it was signed with.
    let checks = match &resign {
        Some((name, resigner)) => Checks::new(
            catalog,
            vec![Route::everywhere(
                Some(name.clone()),
                Some(resigner.secret.clone()),
            )],
        )?,
        None => configured,
    };
    let resign = resign.map(|(_, resigner)| resigner);
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
