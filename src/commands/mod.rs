//! One module per subcommand.

pub mod listen;
pub mod relay;
pub mod requests;
