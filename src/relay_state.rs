//! The listener's connection to its relay, as the engine's events carry it to the printers and
//! the inspector (the engine knows this state, not the tunnel).

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
    pub(crate) fn to_json(&self) -> serde_json::Value {
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
                "at": crate::model::format_time(at), "by": by, "reason": reason}),
            RelayState::Refused { relay, reason } => serde_json::json!({
                "event": "relay", "state": "refused", "relay": relay, "reason": reason}),
        }
    }

    /// A few words for the inspector's header (which names the relay elsewhere).
    pub(crate) fn short(&self) -> String {
        match self {
            RelayState::Connecting { relay } => format!("connecting to {relay}"),
            RelayState::Connected { relay, .. } => format!("{relay} connected"),
            RelayState::Reconnecting { delay, reason, .. } => format!(
                "reconnecting in {:.1} s ({})",
                delay.as_secs_f64(),
                crate::inert::line(reason)
            ),
            RelayState::TakenOver { at, by, .. } => format!(
                "taken over at {}{}",
                at.format("%H:%M:%S"),
                by.as_deref()
                    .map(|by| format!(" by {}", crate::inert::line(by)))
                    .unwrap_or_default()
            ),
            RelayState::Refused { reason, .. } => {
                format!("refused: {}", crate::inert::line(reason))
            }
        }
    }

    /// One human line.
    pub(crate) fn human(&self) -> String {
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
                crate::inert::line(reason),
                delay.as_secs_f64()
            ),
            RelayState::TakenOver { relay, reason, .. } => {
                format!("relay {relay}: {}; stopping", crate::inert::line(reason))
            }
            RelayState::Refused { relay, reason } => {
                format!("relay {relay}: refused: {}", crate::inert::line(reason))
            }
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
