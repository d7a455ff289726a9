//! `webhook-dev emulate avala|infermedica`: the provider's webhook-management API on localhost,
//! delivering real signed events on the provider's retry schedule.
//!
//! [`server`] answers HTTP and routes to [`avala`] or [`infermedica`] (the APIs) or to
//! [`control`] (how `trigger --emulator` fires events); [`scheduler`] delivers; subscriptions,
//! deliveries and attempts live in the store ([`subscriptions`], [`deliveries`]).

pub mod avala;
pub mod control;
pub mod db;
pub mod deliveries;
pub mod http;
pub mod infermedica;
pub mod log;
pub mod scheduler;
pub mod server;
pub mod subscriptions;

pub use db::EmulatorDb;

use crate::providers::Profile;
use scheduler::Deliverer;

/// A provider whose webhook API can be emulated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Provider {
    /// Avala's `/api/v1/webhooks/` and `/api/v1/webhook-deliveries/` (the `avala` SDK's contract).
    Avala,
    /// Infermedica's `/api/v2/config/webhook`.
    Infermedica,
}

impl Provider {
    /// The profile name, also the provider's key in the store.
    pub fn name(&self) -> &'static str {
        match self {
            Provider::Avala => "avala",
            Provider::Infermedica => "infermedica",
        }
    }

    /// The path the developer's client is given as its base URL.
    pub fn base_path(&self) -> &'static str {
        match self {
            Provider::Avala => avala::BASE_PATH,
            Provider::Infermedica => "",
        }
    }

    /// How to point the developer's code at the emulator at `base_url`.
    pub fn hint(&self, base_url: &str) -> String {
        match self {
            Provider::Avala => format!(
                "export AVALA_BASE_URL={base_url} AVALA_ALLOW_INSECURE_BASE_URL=true AVALA_API_KEY=any-non-empty-key"
            ),
            Provider::Infermedica => format!(
                "POST {base_url}{} with Authorization: Bearer <any credentials>",
                infermedica::PATH
            ),
        }
    }

    /// Avala warns that webhooks failing every retry may be disabled; Infermedica says nothing.
    pub fn disables_failing_webhooks(&self) -> bool {
        matches!(self, Provider::Avala)
    }
}

/// Everything a request to the emulator may need; shared behind an `Arc`.
pub struct Emulator {
    /// The provider emulated.
    pub provider: Provider,
    pub profile: Profile,
    /// Subscriptions and deliveries.
    pub db: EmulatorDb,
    /// Sends events.
    pub deliverer: Deliverer,
    /// Prints what happens.
    pub log: log::Log,
}
