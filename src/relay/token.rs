//! Channel tokens: what lets a listener subscribe to a channel of a relay.
//!
//! A token is `hex(HMAC-SHA256(key = relay secret, message = CHANNEL))`, so the relay keeps no list
//! of tokens and anyone holding the secret can print one (`webhook-dev relay token CHANNEL`, or
//! `printf %s CHANNEL | openssl dgst -sha256 -hmac SECRET`). The relay checks a token with
//! `Mac::verify_slice`, in constant time.

use std::fmt;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Sha256;

use crate::signature::Secret;

/// The shortest relay secret accepted: anything shorter can be guessed offline from one token.
pub(crate) const MIN_SECRET_LEN: usize = 16;

/// The longest channel name.
pub(crate) const MAX_CHANNEL_LEN: usize = 64;

/// A channel token. Like [`Secret`], its `Debug` is redacted and it has no `Display`; it still
/// serializes as its plain text, because it has to travel in the handshake.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token as given by the user.
    pub fn new(value: impl Into<String>) -> Self {
        Token(value.into().trim().to_string())
    }

    /// The token's text; call sites should be few and obvious.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Serialize for Token {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Token {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Token(String::deserialize(deserializer)?))
    }
}

/// Why a channel name or a relay secret cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum TokenError {
    /// The channel name has characters or a length that a URL path segment should not.
    #[error("invalid channel name {0:?}: use 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit")]
    Channel(String),
    /// The secret is too short to protect the channels.
    #[error("the relay secret is too short ({0} bytes): use at least {MIN_SECRET_LEN}, e.g. the output of `openssl rand -hex 32`")]
    ShortSecret(usize),
}

/// Checks a channel name: `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`. Names starting with `_` are the
/// relay's own paths (`/_health`).
pub(crate) fn check_channel(channel: &str) -> Result<(), TokenError> {
    let ok = !channel.is_empty()
        && channel.len() <= MAX_CHANNEL_LEN
        && channel.as_bytes()[0].is_ascii_alphanumeric()
        && channel
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(TokenError::Channel(channel.to_string()))
    }
}

/// Checks that a relay secret is long enough.
pub(crate) fn check_secret(secret: &Secret) -> Result<(), TokenError> {
    let len = secret.expose().len();
    if len < MIN_SECRET_LEN {
        Err(TokenError::ShortSecret(len))
    } else {
        Ok(())
    }
}

fn mac(secret: &Secret, channel: &str) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes any key");
    mac.update(channel.as_bytes());
    mac
}

/// The token for `channel` under `secret`.
pub fn channel_token(secret: &Secret, channel: &str) -> Token {
    Token(hex::encode(mac(secret, channel).finalize().into_bytes()))
}

/// Whether `token` is the token for `channel`, compared in constant time. A token that is not
/// 64 hex digits is compared as zeros, so a malformed token takes as long as a wrong one.
pub(crate) fn verify(secret: &Secret, channel: &str, token: &Token) -> bool {
    let mut given = [0u8; 32];
    let well_formed = hex::decode_to_slice(token.expose(), &mut given).is_ok();
    let matches = mac(secret, channel).verify_slice(&given).is_ok();
    well_formed & matches
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn the_token_is_the_hmac_of_the_channel() {
        // printf %s acme | openssl dgst -sha256 -hmac 0123456789abcdef0123456789abcdef
        let token = channel_token(&Secret::new(SECRET), "acme");
        assert_eq!(token.expose().len(), 64);
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(b"acme");
        assert_eq!(
            token.expose(),
            hex::encode(mac.finalize().into_bytes()).as_str()
        );
    }

    #[test]
    fn only_the_right_token_verifies() {
        let secret = Secret::new(SECRET);
        let token = channel_token(&secret, "acme");
        assert!(verify(&secret, "acme", &token));
        assert!(verify(
            &secret,
            "acme",
            &Token::new(format!("  {}\n", token.expose()))
        ));
        assert!(!verify(&secret, "acme2", &token));
        assert!(!verify(
            &Secret::new("another secret of some length"),
            "acme",
            &token
        ));
        assert!(!verify(&secret, "acme", &Token::new("")));
        assert!(!verify(&secret, "acme", &Token::new("zz")));
        assert!(!verify(&secret, "acme", &Token::new(&token.expose()[..62])));
        // A zero token must not pass just because decoding failed into zeros.
        assert!(!verify(&secret, "acme", &Token::new("0".repeat(64))));
    }

    #[test]
    fn tokens_do_not_show_in_debug() {
        let token = channel_token(&Secret::new(SECRET), "acme");
        assert_eq!(format!("{token:?}"), "Token(<redacted>)");
    }

    #[test]
    fn channel_names() {
        for good in ["a", "acme", "team-1.dev_x", &"a".repeat(64)] {
            assert!(check_channel(good).is_ok(), "{good}");
        }
        for bad in ["", "_health", "-x", "a/b", "a b", "é", &"a".repeat(65)] {
            let err = check_channel(bad).unwrap_err().to_string();
            assert!(err.contains("invalid channel name"), "{bad}: {err}");
        }
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(check_secret(&Secret::new("short")).is_err());
        assert!(check_secret(&Secret::new(SECRET)).is_ok());
    }
}
