//! The capture server: accepts HTTP/1 connections, bounds each body, and hands whole requests to
//! the engine.

mod request;
mod server;

pub(crate) use request::too_large;
pub use request::Limits;
pub use server::serve;
