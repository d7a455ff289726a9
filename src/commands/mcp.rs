//! `webhook-dev mcp`: the MCP server on stdio, over the store.

use std::path::Path;

/// Serves until stdin closes; the protocol is blocking, so it runs off the async threads.
pub async fn run(store_dir: &Path) -> anyhow::Result<()> {
    let store = store_dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        crate::mcp::serve(&store, std::io::stdin().lock(), std::io::stdout().lock())
    })
    .await?
}
