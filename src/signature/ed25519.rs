//! Standard Webhooks v1a: `v1a,<base64 ed25519 signature>` over `{id}.{timestamp}.{body}`,
//! verified with a `whpk_` public key and made with a `whsk_` secret key (both base64; a secret
//! key is the 32-byte seed, or the 64-byte seed followed by its public key).

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use super::support::base64_decode;

/// What kind of key a Standard Webhooks secret is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// `whsec_`: an HMAC secret, for v1.
    Symmetric,
    /// `whpk_`: an ed25519 public key, verifies v1a.
    Public,
    /// `whsk_`: an ed25519 secret key, signs v1a.
    Secret,
}

pub(crate) fn kind(secret: &str) -> KeyKind {
    if secret.starts_with("whpk_") {
        KeyKind::Public
    } else if secret.starts_with("whsk_") {
        KeyKind::Secret
    } else {
        KeyKind::Symmetric
    }
}

/// The public key of a `whpk_` key, or why it is not one.
pub(crate) fn public_key(secret: &str) -> Result<VerifyingKey, String> {
    let encoded = secret.strip_prefix("whpk_").unwrap_or(secret);
    let bytes = base64_decode(encoded).ok_or("the whpk_ public key is not valid base64")?;
    let bytes: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
        format!(
            "the whpk_ public key is {} bytes long; an ed25519 public key is 32",
            bytes.len()
        )
    })?;
    VerifyingKey::from_bytes(&bytes)
        .map_err(|_| "the whpk_ key is not an ed25519 public key".into())
}

/// The signing key of a `whsk_` key, or why it is not one.
pub(crate) fn signing_key(secret: &str) -> Result<SigningKey, String> {
    let encoded = secret.strip_prefix("whsk_").unwrap_or(secret);
    let bytes = base64_decode(encoded).ok_or("the whsk_ secret key is not valid base64")?;
    match bytes.len() {
        32 => Ok(SigningKey::from_bytes(
            bytes.as_slice().try_into().expect("the length was checked"),
        )),
        64 => {
            let key = SigningKey::from_bytes(bytes[..32].try_into().expect("the length was checked"));
            if key.verifying_key().as_bytes() != &bytes[32..] {
                return Err("the whsk_ secret key's second half is not the public key of its first half".into());
            }
            Ok(key)
        }
        n => Err(format!(
            "the whsk_ secret key is {n} bytes long; an ed25519 secret key is 32 (the seed) or 64 (seed and public key)"
        )),
    }
}

/// Whether any of `presented` (base64 after `v1a,`) is a valid signature of `content`.
/// Returns how many could not be decoded, too.
pub(crate) fn any_valid(key: &VerifyingKey, content: &[u8], presented: &[&str]) -> (bool, usize) {
    let mut undecodable = 0;
    let mut valid = false;
    for text in presented {
        let Some(bytes) = base64_decode(text) else {
            undecodable += 1;
            continue;
        };
        let Ok(signature) = Signature::from_slice(&bytes) else {
            undecodable += 1;
            continue;
        };
        valid |= key.verify(content, &signature).is_ok();
    }
    (valid, undecodable)
}

/// `v1a,<base64>` of `content` signed with `key`.
pub(crate) fn sign(key: &SigningKey, content: &[u8]) -> String {
    format!(
        "v1a,{}",
        super::support::encode(super::Encoding::Base64, &key.sign(content).to_bytes())
    )
}

/// `whpk_` + base64 of the public key belonging to `key`.
pub(crate) fn public_key_text(key: &SigningKey) -> String {
    format!(
        "whpk_{}",
        super::support::encode(super::Encoding::Base64, key.verifying_key().as_bytes())
    )
}
