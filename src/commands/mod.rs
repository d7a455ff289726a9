//! One module per subcommand.

pub mod config;
pub mod deliveries;
pub mod diff;
pub mod docs;
pub mod emulate;
pub mod export;
pub mod inspect;
pub mod listen;
pub mod profiles;
pub mod relay;
pub mod replay;
pub mod requests;
pub mod setup;
pub mod trigger;
pub mod verify;
