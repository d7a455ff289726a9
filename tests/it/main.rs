//! The integration tests, one crate (one binary to link): a module per area, fixtures in `support`.

mod support;

mod cli;
mod config_file;
mod emulate;
mod framing;
mod https_forward;
mod large_answers;
mod listen;
mod listen_output;
mod mcp;
mod private_data;
mod relay_channels;
mod relay_cli;
mod relay_e2e;
mod relay_postgres;
mod relay_protocol;
mod relay_strangers;
mod relay_tls;
mod relay_tui;
mod replay;
mod signatures;
mod store;
mod trigger;
mod tui_cli;
mod tui_e2e;
mod tui_snapshots;
mod tui_update;
