//! Provider profiles: what each webhook provider sends, as data.
//!
//! A profile (one TOML file in `assets/providers/`, compiled in, or in a user directory) names the
//! provider's signature [`Scheme`](crate::signature::Scheme), where the event type is found, the
//! retry schedule and answer time limit, and a catalog of events, each with a sample payload and a
//! JSON Schema (and, when the provider expects one, the schema of the answer). From those this
//! module reads a request's event type, reports how a body or an answer departs from its schema
//! in words, describes a profile for `webhook-dev profiles NAME`, and makes fresh payloads for
//! `trigger`.

mod answer;
mod body;
mod builtin;
mod catalog;
mod describe;
mod error;
mod file;
mod fresh;
mod profile;
mod schema;
mod send_headers;
mod set_field;

#[cfg(test)]
mod tests;

pub use catalog::Catalog;
pub use error::ProviderError;
#[cfg(test)]
use fresh::fresh_sample_at;
pub(crate) use fresh::{fresh_sample, uuid};
pub use profile::{EventSpec, EventTypeSource, Profile};
pub use schema::SchemaCheck;
pub(crate) use send_headers::Fill;
pub use send_headers::HeaderTemplate;
pub(crate) use set_field::set_field;
