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
pub mod pre_hello;
pub mod protocol;
pub mod queue;
pub mod server;
pub mod strangers;
pub mod tls;
pub mod token;

use std::time::Duration;

/// The listener's connection to the relay, as shown by the printers and the inspector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RelayState {
    /// Connecting for the first time.
    Connecting {
        /// The relay address (never the token).
        relay: String,
    },
    /// Subscribed; requests flow.
    Connected {
        /// The relay address.
        relay: String,
        /// The channel.
        channel: String,
        /// Requests that were waiting in the relay's queue, now being delivered.
        queued: u64,
    },
    /// The connection failed or was lost; the next attempt is in `delay`.
    Reconnecting {
        /// The relay address.
        relay: String,
        /// Time until the next attempt.
        delay: Duration,
        /// Why the last attempt failed or the connection was lost.
        reason: String,
    },
    /// A newer listener took the channel over; this one stops.
    TakenOver {
        /// The relay address.
        relay: String,
        /// When the newer listener connected.
        at: chrono::DateTime<chrono::Utc>,
        /// Its address, as the relay saw it.
        by: Option<String>,
        /// The whole story in one sentence.
        reason: String,
    },
    /// The relay refused this listener for good (wrong token, other version, a channel held by
    /// a `--no-takeover` listener).
    Refused {
        /// The relay address.
        relay: String,
        /// Why.
        reason: String,
    },
}

impl RelayState {
    /// The NDJSON line for `listen --json`: `{"event":"relay","state":...}`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            RelayState::Connecting { relay } => serde_json::json!({
                "event": "relay", "state": "connecting", "relay": relay}),
            RelayState::Connected {
                relay,
                channel,
                queued,
            } => serde_json::json!({
                "event": "relay", "state": "connected", "relay": relay,
                "channel": channel, "queued": queued}),
            RelayState::Reconnecting {
                relay,
                delay,
                reason,
            } => serde_json::json!({
                "event": "relay", "state": "reconnecting", "relay": relay,
                "in_ms": delay.as_millis() as u64, "reason": reason}),
            RelayState::TakenOver {
                relay,
                at,
                by,
                reason,
            } => serde_json::json!({
                "event": "relay", "state": "taken_over", "relay": relay,
                "at": crate::store::format_time(at), "by": by, "reason": reason}),
            RelayState::Refused { relay, reason } => serde_json::json!({
                "event": "relay", "state": "refused", "relay": relay, "reason": reason}),
        }
    }

    /// A few words for the inspector's header (which names the relay elsewhere).
    pub fn short(&self) -> String {
        match self {
            RelayState::Connecting { relay } => format!("connecting to {relay}"),
            RelayState::Connected { relay, .. } => format!("{relay} connected"),
            RelayState::Reconnecting { delay, reason, .. } => format!(
                "reconnecting in {:.1} s ({})",
                delay.as_secs_f64(),
                crate::inert::inert(reason, false)
            ),
            RelayState::TakenOver { at, by, .. } => format!(
                "taken over at {}{}",
                at.format("%H:%M:%S"),
                by.as_deref()
                    .map(|by| format!(" by {}", crate::inert::inert(by, false)))
                    .unwrap_or_default()
            ),
            RelayState::Refused { reason, .. } => {
                format!("refused: {}", crate::inert::inert(reason, false))
            }
        }
    }

    /// One human line.
    pub fn human(&self) -> String {
        match self {
            RelayState::Connecting { relay } => format!("relay {relay}: connecting"),
            RelayState::Connected { relay, queued, .. } => match queued {
                0 => format!("relay {relay}: connected"),
                n => {
                    format!("relay {relay}: connected; delivering {n} request(s) queued while away")
                }
            },
            RelayState::Reconnecting {
                relay,
                delay,
                reason,
            } => format!(
                "relay {relay}: {}; reconnecting in {:.1} s",
                crate::inert::inert(reason, false),
                delay.as_secs_f64()
            ),
            RelayState::TakenOver { relay, reason, .. } => format!(
                "relay {relay}: {}; stopping",
                crate::inert::inert(reason, false)
            ),
            RelayState::Refused { relay, reason } => format!(
                "relay {relay}: refused: {}",
                crate::inert::inert(reason, false)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_print_as_json_and_text() {
        let state = RelayState::Reconnecting {
            relay: "ws://127.0.0.1:1/acme".into(),
            delay: Duration::from_millis(1500),
            reason: "connection refused".into(),
        };
        assert_eq!(
            state.to_json().to_string(),
            r#"{"event":"relay","state":"reconnecting","relay":"ws://127.0.0.1:1/acme","in_ms":1500,"reason":"connection refused"}"#
        );
        assert_eq!(
            state.human(),
            "relay ws://127.0.0.1:1/acme: connection refused; reconnecting in 1.5 s"
        );
        let refused = RelayState::Refused {
            relay: "wss://r/acme".into(),
            reason: "wrong token\u{1b}[2J".into(),
        };
        assert!(!refused.human().contains('\u{1b}'));
        assert!(!refused.short().contains('\u{1b}'));
        assert_eq!(state.short(), "reconnecting in 1.5 s (connection refused)");
    }
}
