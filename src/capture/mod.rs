//! The capture server: accepts HTTP/1 connections, bounds each body, and hands whole requests to
//! the engine.

mod linger;
mod request;
mod server;

pub use linger::before_park;
pub(crate) use request::too_large;
pub use request::Limits;
pub use server::serve;
