//! What the relay reports for its operator.

use std::net::SocketAddr;

/// What the relay reports for its operator.
#[derive(Clone, Debug, PartialEq)]
pub enum RelayEvent {
    /// A listener subscribed to a channel.
    ListenerConnected {
        /// The channel.
        channel: String,
        /// The listener's address.
        peer: Option<SocketAddr>,
        /// How many requests were queued for it.
        queued: u64,
    },
    /// A listener went away.
    ListenerLeft {
        /// The channel.
        channel: String,
        /// Why.
        reason: String,
    },
    /// A newer listener took the channel over; the previous one was told when and by whom.
    ListenerTakenOver {
        /// The channel.
        channel: String,
        /// The displaced listener's address.
        previous: Option<SocketAddr>,
        /// The newer listener's address.
        by: Option<SocketAddr>,
    },
    /// A listener was refused at the handshake.
    ListenerRefused {
        /// The channel.
        channel: String,
        /// The listener's address.
        peer: Option<SocketAddr>,
        /// Why.
        reason: String,
    },
}

impl RelayEvent {
    /// One line for the operator.
    pub fn human(&self) -> String {
        let peer = |p: &Option<SocketAddr>| p.map(|p| format!(" from {p}")).unwrap_or_default();
        match self {
            RelayEvent::ListenerConnected {
                channel,
                peer: p,
                queued,
            } => format!(
                "listener connected to {channel}{}; {queued} queued request(s) to deliver",
                peer(p)
            ),
            RelayEvent::ListenerLeft { channel, reason } => {
                format!("listener of {channel} left: {reason}")
            }
            RelayEvent::ListenerTakenOver {
                channel,
                previous,
                by,
            } => format!(
                "listener of {channel}{} taken over by a newer one{}",
                previous.map(|p| format!(" at {p}")).unwrap_or_default(),
                peer(by)
            ),
            RelayEvent::ListenerRefused {
                channel,
                peer: p,
                reason,
            } => format!("listener refused on {channel}{}: {reason}", peer(p)),
        }
    }

    /// The NDJSON line for `relay --json`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            RelayEvent::ListenerConnected {
                channel,
                peer,
                queued,
            } => serde_json::json!({"event": "listener_connected", "channel": channel,
                "peer": peer.map(|p| p.to_string()), "queued": queued}),
            RelayEvent::ListenerLeft { channel, reason } => serde_json::json!({
                "event": "listener_left", "channel": channel, "reason": reason}),
            RelayEvent::ListenerTakenOver {
                channel,
                previous,
                by,
            } => serde_json::json!({"event": "listener_taken_over", "channel": channel,
                "previous": previous.map(|p| p.to_string()), "by": by.map(|p| p.to_string())}),
            RelayEvent::ListenerRefused {
                channel,
                peer,
                reason,
            } => serde_json::json!({"event": "listener_refused", "channel": channel,
                "peer": peer.map(|p| p.to_string()), "reason": reason}),
        }
    }
}
