//! One module per subcommand.

pub mod deliveries;
pub mod export;
pub mod listen;
pub mod replay;
pub mod requests;
