//! `webhook-dev inspect`: the terminal inspector over the stored history, without listening.

use std::io::IsTerminal;
use std::path::Path;

use crate::cli::InspectArgs;
use crate::tui::theme::Theme;

/// Runs the inspector until `q`.
pub async fn run(store_dir: &Path, args: InspectArgs) -> anyhow::Result<()> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "inspect needs a terminal; from a script, read the store with `requests list` and `requests show`"
        );
    }
    let checks = super::setup::checks_for(&args.signing, args.timeout, &args.handler_tls.tls())?;
    let theme = Theme::choose(
        args.theme,
        crate::config::theme(args.signing.config.as_deref())?,
    );
    crate::tui::for_inspect(
        store_dir,
        args.forward,
        args.timeout,
        args.handler_tls.tls(),
        checks,
    )?
    .with_theme(theme)
    .run()
    .await
}
