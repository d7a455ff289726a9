//! One module per subcommand.

pub mod inspect;
pub mod listen;
pub mod requests;
