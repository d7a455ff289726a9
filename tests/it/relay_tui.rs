//! The inspector shows the relay connection's state as `listen --relay` reports it.

use std::time::Duration;

use webhook_dev::engine::EngineEvent;
use webhook_dev::relay_state::RelayState;
use webhook_dev::tui::app::{update, Mode};
use webhook_dev::tui::message::Message;

use crate::support::tui::*;

#[test]
fn the_header_follows_the_relay_state() {
    let mut app = app(&sample(), Mode::Listen);
    assert!(render(&app).contains("relay: off"));
    let relay = "ws://127.0.0.1:9/acme".to_string();
    update(
        &mut app,
        Message::Engine(EngineEvent::Relay(RelayState::Connected {
            relay: relay.clone(),
            channel: "acme".into(),
            queued: 2,
        })),
    );
    assert!(render(&app).contains("relay: ws://127.0.0.1:9/acme connected"));
    update(
        &mut app,
        Message::Engine(EngineEvent::Relay(RelayState::Reconnecting {
            relay,
            delay: Duration::from_millis(1200),
            reason: "connection refused".into(),
        })),
    );
    let screen = render(&app);
    assert!(
        screen.contains("relay: reconnecting in 1.2 s (connection"),
        "{screen}"
    );
}
