//! The tunnel: a relay on a public host, and `listen --relay` on the developer's machine.
//!
//! - [`protocol`]: the messages on the WebSocket between them, with their limits, and
//!   `next_message` for both ends.
//! - [`server`]: the relay — providers send to `/CHANNEL/...`, listeners subscribe to `/CHANNEL`;
//!   split into channel state, the provider side and the listener session.
//! - [`queue`]: the relay's durable queue, so no request is lost while no listener is connected,
//!   and the channels that exist.
//! - [`pg`]: the same in PostgreSQL, shared by several relay instances that act as one.
//! - [`strangers`] and [`pre_hello`]: what a connection without a verified token may cost.
//! - [`client`]: the listener's end, which feeds relayed requests to the [`crate::engine`].
//! - [`token`]: channel tokens, derived from the relay's secret.

pub mod client;
pub mod pg;
pub(crate) mod pre_hello;
pub mod protocol;
pub mod queue;
pub mod server;
pub mod strangers;
pub mod tls;
pub mod token;
