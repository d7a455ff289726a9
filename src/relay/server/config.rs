//! The relay's settings.

use std::time::Duration;

use crate::relay::protocol;
use crate::relay::strangers::StrangerLimits;
use crate::relay::token::{self, check_channel};
use crate::signature::Secret;

/// A request rate limit per channel: a token bucket.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: f64,
    /// How many may arrive at once after a quiet spell.
    pub burst: f64,
}

/// How the relay behaves.
#[derive(Clone, Debug)]
pub struct RelayConfig {
    /// The secret channel tokens are derived from.
    pub secret: Secret,
    /// The status a provider gets when no listener is connected (the request is queued).
    pub offline_status: u16,
    /// How long a provider waits for the listener's answer before getting 504.
    pub answer_timeout: Duration,
    /// The largest request body accepted (413 above it).
    pub max_body: usize,
    /// The most requests queued per channel (507 above it).
    pub max_queue: usize,
    /// Requests per second per channel (429 above it); `None` for no limit.
    pub rate: Option<RateLimit>,
    /// How many requests a listener may have unanswered at once.
    pub max_in_flight: usize,
    /// How often both ends ping; a connection silent for 2.5 intervals is dead.
    pub heartbeat: Duration,
    /// How long a listener has to send `hello`, and a TLS client to finish its handshake.
    pub handshake_timeout: Duration,
    /// How long a provider may take to send a request head.
    pub header_timeout: Duration,
    /// How long a provider may take to send a request body once its head has arrived.
    pub body_timeout: Duration,
    /// How long to wait before delivering again a request the listener could not store.
    pub retry_after_error: Duration,
    /// How long shutdown waits for connections to finish.
    pub shutdown_grace: Duration,
    /// Serve only these channels (404 for others); `None` serves any valid channel name.
    pub channels: Option<std::collections::HashSet<String>>,
    /// The most connections served at once; more are closed as they arrive.
    pub max_connections: usize,
    /// Caps on connections not yet authenticated (no verified hello, no request to an existing
    /// channel), per client address and in total.
    pub strangers: StrangerLimits,
    /// Accept requests for channels no listener ever opened (they come to exist on first use).
    pub open_channels: bool,
    /// The most body and header bytes queued, all channels together (507 above it).
    pub max_queue_bytes: u64,
    /// How long a channel with nothing queued and no listener keeps its bookkeeping in memory
    /// (rate-limit bucket, counters); its existence is durable regardless.
    pub idle_eviction: Duration,
}

impl RelayConfig {
    /// Defaults around `secret`.
    pub fn new(secret: Secret) -> Self {
        RelayConfig {
            secret,
            offline_status: 202,
            answer_timeout: Duration::from_secs(30),
            max_body: 10 * 1024 * 1024,
            max_queue: 10_000,
            rate: Some(RateLimit {
                per_second: 1000.0,
                burst: 2000.0,
            }),
            max_in_flight: 128,
            heartbeat: Duration::from_secs(10),
            handshake_timeout: protocol::HANDSHAKE_TIMEOUT,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            retry_after_error: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(10),
            channels: None,
            max_connections: 4096,
            strangers: StrangerLimits::default(),
            open_channels: false,
            max_queue_bytes: 1024 * 1024 * 1024,
            idle_eviction: Duration::from_secs(600),
        }
    }

    /// Checks the settings against each other and the protocol.
    pub(crate) fn validate(&self) -> anyhow::Result<()> {
        token::check_secret(&self.secret)?;
        if !(200..=299).contains(&self.offline_status) {
            anyhow::bail!(
                "--offline-status must be a 2xx status (the request is accepted and queued), not {}",
                self.offline_status
            );
        }
        if !protocol::body_fits(self.max_body) {
            anyhow::bail!(
                "--max-body can be at most {} bytes (what one protocol frame carries)",
                protocol::MAX_BODY_BYTES
            );
        }
        if self.max_queue == 0 || self.max_in_flight == 0 {
            anyhow::bail!("--max-queue and the in-flight window must be at least 1");
        }
        if self.max_queue_bytes < self.max_body as u64 {
            anyhow::bail!(
                "--max-queue-bytes ({}) must be at least --max-body ({}), or no request could be queued",
                self.max_queue_bytes,
                self.max_body
            );
        }
        for channel in self.channels.iter().flatten() {
            check_channel(channel)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_explained() {
        let mut config = RelayConfig::new(Secret::new("0123456789abcdef0123"));
        assert!(config.validate().is_ok());
        config.offline_status = 503;
        assert!(config.validate().unwrap_err().to_string().contains("2xx"));
        config.offline_status = 202;
        config.max_body = protocol::MAX_BODY_BYTES + 1;
        assert!(config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--max-body"));
        let short = RelayConfig::new(Secret::new("short"));
        assert!(short
            .validate()
            .unwrap_err()
            .to_string()
            .contains("too short"));
    }
}
