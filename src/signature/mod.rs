//! Webhook signature verification and signing.
//!
//! Every function here is pure: it reads the headers, the body, the secret and a clock value
//! passed in by the caller, and never does I/O. A failed check says why in its [`Verdict::reason`],
//! in words a developer can act on, and never quotes the secret.

mod body_hmac;
mod diagnose;
mod ed25519;
mod secret;
mod slack;
mod standard_webhooks;
mod static_token;
mod stripe;
mod support;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use crate::model::{Status, Verdict};
pub use diagnose::unchecked;
pub(crate) use diagnose::{detect, no_scheme_found, no_secret_for};
pub use secret::Secret;

/// Request headers: name lower-cased, raw value bytes, in arrival order, repeats kept.
pub(crate) type Headers = [(String, Vec<u8>)];

/// Header names (lower-case) that carry a signature, its message id or timestamp, or a token, in
/// the schemes webhook-dev knows, plus the generic `signature` and `x-signature`: what the
/// Signature tab shows, and all that re-signing a request changes.
pub(crate) const SIGNATURE_HEADERS: &[&str] = &[
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "stripe-signature",
    "x-hub-signature-256",
    "x-hub-signature",
    "x-shopify-hmac-sha256",
    "x-slack-signature",
    "x-slack-request-timestamp",
    "x-avala-signature",
    "x-webhook-infermedica-token",
    "x-signature",
    "signature",
];

/// The tolerance, in seconds, that providers with a timestamp apply by default (5 minutes).
pub(crate) const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// MAC digest of a generic [`Scheme::Hmac`] profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// HMAC-SHA1 (20 bytes).
    Sha1,
    /// HMAC-SHA256 (32 bytes).
    Sha256,
    /// HMAC-SHA512 (64 bytes).
    Sha512,
}

/// Text encoding of a MAC in a header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// Hexadecimal, either case accepted, lower case produced.
    Hex,
    /// Standard base64 with padding (URL-safe and unpadded forms are accepted).
    Base64,
}

fn default_tolerance() -> u64 {
    DEFAULT_TOLERANCE_SECS
}

fn default_header_prefix() -> String {
    "webhook".to_owned()
}

/// How a provider signs its requests; written as data in provider files, tagged by `kind`
/// (`standard-webhooks`, `stripe`, `github`, `shopify`, `slack`, `avala`, `static-token`, `hmac`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Scheme {
    /// Standard Webhooks (and Svix): `{prefix}-id`, `{prefix}-timestamp`, `{prefix}-signature`
    /// carrying space-separated `v1,<base64>` HMAC-SHA256 of `{id}.{timestamp}.{body}`, keyed
    /// with the base64-decoded part of a `whsec_` secret.
    StandardWebhooks {
        /// Header name prefix: `webhook` (default) or `svix`.
        #[serde(default = "default_header_prefix")]
        header_prefix: String,
        /// Allowed clock skew in either direction, in seconds (default 300).
        #[serde(default = "default_tolerance")]
        tolerance_secs: u64,
    },
    /// Stripe: `Stripe-Signature: t=..,v1=..` with hex HMAC-SHA256 of `{t}.{body}`, keyed with
    /// the secret's bytes as given.
    Stripe {
        /// Allowed clock skew in either direction, in seconds (default 300).
        #[serde(default = "default_tolerance")]
        tolerance_secs: u64,
    },
    /// GitHub: `X-Hub-Signature-256: sha256=<hex>` of the body; legacy `X-Hub-Signature:
    /// sha1=<hex>` is checked when the former is absent.
    Github,
    /// Shopify: `X-Shopify-Hmac-Sha256`, base64 HMAC-SHA256 of the body.
    Shopify,
    /// Slack: `X-Slack-Signature: v0=<hex>` of `v0:{ts}:{body}` with
    /// `X-Slack-Request-Timestamp`.
    Slack {
        /// Allowed clock skew in either direction, in seconds (default 300).
        #[serde(default = "default_tolerance")]
        tolerance_secs: u64,
    },
    /// Avala: `X-Avala-Signature`, hex HMAC-SHA256 of the body, no prefix.
    Avala,
    /// A token sent verbatim in a header (Infermedica: `x-webhook-infermedica-token`), compared
    /// in constant time with the secret.
    StaticToken {
        /// The header carrying the token.
        header: String,
    },
    /// Any HMAC of the raw body in one header.
    Hmac {
        /// The header carrying the signature.
        header: String,
        /// The MAC digest.
        algorithm: Algorithm,
        /// How the MAC is written in the header.
        encoding: Encoding,
        /// Text before the encoded MAC, such as `sha256=`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prefix: Option<String>,
    },
}

/// Why [`sign`] could not produce headers.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The scheme names a header that is not a valid HTTP header name.
    #[error("{0:?} is not a valid HTTP header name")]
    InvalidHeaderName(String),
    /// A value to send contains bytes an HTTP header cannot carry (the value is not shown).
    #[error("the value for header {0} contains characters an HTTP header cannot carry")]
    InvalidHeaderValue(String),
    /// The scheme needs a message id and none was given.
    #[error("this scheme signs a message id, and the id is empty")]
    EmptyMessageId,
    /// The scheme signs a timestamp and it is before 1970.
    #[error("timestamp {0} is negative; a Unix timestamp in seconds is expected")]
    NegativeTimestamp(i64),
    /// The key given cannot sign: a public key, or a malformed secret key (the words say which).
    #[error("{0}")]
    Key(String),
}

/// Check `body` and `headers` against `scheme` with `secret`, as of `now_unix` (seconds).
///
/// `profile` is only echoed in the verdict and its reasons. Never panics, whatever the input.
pub fn verify(
    profile: &str,
    scheme: &Scheme,
    headers: &Headers,
    body: &[u8],
    secret: &Secret,
    now_unix: i64,
) -> Verdict {
    let req = Request {
        profile,
        headers,
        body,
        secret,
    };
    match scheme {
        Scheme::StandardWebhooks {
            header_prefix,
            tolerance_secs,
        } => standard_webhooks::verify(&req, header_prefix, *tolerance_secs, now_unix),
        Scheme::Stripe { tolerance_secs } => stripe::verify(&req, *tolerance_secs, now_unix),
        Scheme::Github => body_hmac::verify_github(&req),
        Scheme::Shopify => body_hmac::verify_shopify(&req),
        Scheme::Slack { tolerance_secs } => slack::verify(&req, *tolerance_secs, now_unix),
        Scheme::Avala => body_hmac::verify(&req, &body_hmac::BodyMac::avala()),
        Scheme::StaticToken { header } => static_token::verify(&req, header),
        Scheme::Hmac {
            header,
            algorithm,
            encoding,
            prefix,
        } => body_hmac::verify(
            &req,
            &body_hmac::BodyMac::generic(header, *algorithm, *encoding, prefix.as_deref()),
        ),
    }
}

/// The headers a provider using `scheme` would send with `body` (to set or replace), for
/// `trigger` and re-signed replays. `msg_id` is used only by Standard Webhooks, and
/// `timestamp_unix` only by schemes that sign a timestamp. Header names are lower-cased.
pub fn sign(
    scheme: &Scheme,
    secret: &Secret,
    body: &[u8],
    msg_id: &str,
    timestamp_unix: i64,
) -> Result<Vec<(String, String)>, SignError> {
    match scheme {
        Scheme::StandardWebhooks { header_prefix, .. } => {
            standard_webhooks::sign(header_prefix, secret, body, msg_id, timestamp_unix)
        }
        Scheme::Stripe { .. } => stripe::sign(secret, body, timestamp_unix),
        Scheme::Github => Ok(body_hmac::sign_github(secret, body)),
        Scheme::Shopify => body_hmac::sign(&body_hmac::BodyMac::shopify(), secret, body),
        Scheme::Slack { .. } => slack::sign(secret, body, timestamp_unix),
        Scheme::Avala => body_hmac::sign(&body_hmac::BodyMac::avala(), secret, body),
        Scheme::StaticToken { header } => static_token::sign(header, secret),
        Scheme::Hmac {
            header,
            algorithm,
            encoding,
            prefix,
        } => body_hmac::sign(
            &body_hmac::BodyMac::generic(header, *algorithm, *encoding, prefix.as_deref()),
            secret,
            body,
        ),
    }
}

/// The header holding the message id that `scheme` signs, if it signs one (`webhook-id`).
pub(crate) fn message_id_header(scheme: &Scheme) -> Option<String> {
    match scheme {
        Scheme::StandardWebhooks { header_prefix, .. } => Some(format!("{header_prefix}-id")),
        _ => None,
    }
}

/// What every scheme's check reads.
pub(crate) struct Request<'a> {
    pub profile: &'a str,
    pub headers: &'a Headers,
    pub body: &'a [u8],
    pub secret: &'a Secret,
}
