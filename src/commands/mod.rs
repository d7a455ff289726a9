//! One module per subcommand.

pub mod completions;
pub mod config;
pub mod deliveries;
pub mod diff;
pub mod emulate;
pub mod export;
pub mod import;
pub mod inspect;
pub mod listen;
pub mod man;
pub mod mcp;
pub mod profiles;
pub mod relay;
pub mod replay;
pub mod requests;
pub mod setup;
pub mod trigger;
pub mod verify;
