//! Standard Webhooks and Svix: `v1,<base64>` HMAC-SHA256 of `{id}.{timestamp}.{body}`, and
//! `v1a,<base64>` ed25519 signatures of the same content (see [`super::ed25519`]).

use super::diagnose::{self, MacCheck, Mismatch};
use super::ed25519::{self, KeyKind};
use super::support::{self, base64_decode, quote};
use super::{Algorithm, Encoding, Request, Secret, SignError, Status, Verdict};

/// The HMAC key: the base64 after `whsec_` decoded (a secret without the prefix is decoded
/// too); a secret that is not base64 is used as its raw bytes.
pub(crate) fn key(secret: &str) -> Vec<u8> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    base64_decode(encoded).unwrap_or_else(|| secret.as_bytes().to_vec())
}

fn key_use(secret: &str) -> &'static str {
    let encoded = secret.strip_prefix("whsec_");
    match (encoded, base64_decode(encoded.unwrap_or(secret)).is_some()) {
        (Some(_), true) => "the base64-decoded bytes after whsec_",
        (None, true) => "the base64-decoded secret",
        (_, false) => "its text as bytes, since it is not valid base64",
    }
}

fn alternative_keys(secret: &str) -> Vec<(Vec<u8>, String)> {
    let mut out = vec![(
        secret.as_bytes().to_vec(),
        "the signature matches the secret used raw instead of base64-decoded (its whole text as \
         the HMAC key): the sender did not decode the secret; Standard Webhooks keys with the \
         base64-decoded bytes after whsec_"
            .to_owned(),
    )];
    if let Some(encoded) = secret.strip_prefix("whsec_") {
        out.push((
            encoded.as_bytes().to_vec(),
            "the signature matches the text after whsec_ used raw instead of base64-decoded: \
             the sender did not decode the secret; Standard Webhooks keys with the \
             base64-decoded bytes after whsec_"
                .to_owned(),
        ));
    }
    if secret.trim() != secret {
        out.push((
            key(secret.trim()),
            "the signature matches once whitespace around the secret is removed (a trailing \
             newline from a file?)"
                .to_owned(),
        ));
    }
    out
}

struct Names {
    id: String,
    timestamp: String,
    signature: String,
}

impl Names {
    fn new(header_prefix: &str) -> Self {
        let prefix = header_prefix.to_ascii_lowercase();
        Names {
            id: format!("{prefix}-id"),
            timestamp: format!("{prefix}-timestamp"),
            signature: format!("{prefix}-signature"),
        }
    }

    fn all(&self) -> [&str; 3] {
        [&self.id, &self.timestamp, &self.signature]
    }
}

pub(crate) fn verify(req: &Request<'_>, header_prefix: &str, tolerance: u64, now: i64) -> Verdict {
    let names = Names::new(header_prefix);
    let own = names.all();
    let missing: Vec<&str> = own
        .iter()
        .copied()
        .filter(|h| !support::has(req.headers, h))
        .collect();
    if !missing.is_empty() {
        return diagnose::missing(req, &missing, &own, &own);
    }
    let invalid = |reason: String| Verdict::failed(Status::Invalid, req.profile, reason);

    let id = match support::single_text(req.headers, &names.id, &names.id) {
        Ok(Some(id)) if !id.is_empty() => id,
        Ok(_) => return invalid(format!("{} is empty", names.id)),
        Err(reason) => return invalid(reason),
    };
    let timestamp_text = match support::single_text(req.headers, &names.timestamp, &names.timestamp)
    {
        Ok(text) => text.unwrap_or_default(),
        Err(reason) => return invalid(reason),
    };
    let timestamp = match support::parse_timestamp(timestamp_text, &names.timestamp) {
        Ok(t) => t,
        Err(reason) => return invalid(reason),
    };

    let mut presented = Vec::new();
    let mut asymmetric = Vec::new();
    let mut other_versions = Vec::new();
    let mut unversioned = 0usize;
    let mut not_utf8 = 0usize;
    for raw in support::values(req.headers, &names.signature) {
        let Ok(text) = std::str::from_utf8(raw) else {
            not_utf8 += 1;
            continue;
        };
        for entry in text.split_ascii_whitespace() {
            match entry.split_once(',') {
                Some(("v1", sig)) => presented.push(sig),
                Some(("v1a", sig)) => asymmetric.push(sig),
                Some((version, _)) => other_versions.push(quote(version)),
                None => unversioned += 1,
            }
        }
    }
    let secret = req.secret.expose();
    let content_prefix = format!("{id}.{timestamp_text}.");
    match ed25519::kind(secret) {
        KeyKind::Public => {
            let expiry = support::out_of_tolerance(timestamp, now, tolerance);
            return verify_v1a(
                req,
                &names.signature,
                secret,
                &content_prefix,
                &asymmetric,
                presented.len(),
                expiry,
            );
        }
        KeyKind::Secret => {
            return secret_key_given(req, &names.signature, secret, &content_prefix, &asymmetric)
        }
        KeyKind::Symmetric if presented.is_empty() && !asymmetric.is_empty() => {
            return invalid(format!(
                "{} has only v1a (ed25519) signatures; verify them with the sender's whpk_ public key (a whsec_ secret verifies v1 signatures)",
                names.signature
            ));
        }
        KeyKind::Symmetric => {}
    }
    if presented.is_empty() {
        let versions =
            (!other_versions.is_empty()).then(|| format!("versions {}", other_versions.join(", ")));
        let found: Vec<String> = versions
            .into_iter()
            .chain(support::counted(
                unversioned,
                "entry without a version",
                "entries without a version",
            ))
            .chain(support::counted(
                not_utf8,
                "value not UTF-8",
                "values not UTF-8",
            ))
            .collect();
        let found = support::found_instead(&found, "it is empty");
        return invalid(format!(
            "{} has no v1,<base64> signature{found}",
            names.signature
        ));
    }

    let check = MacCheck::new(
        Algorithm::Sha256,
        Encoding::Base64,
        key(secret),
        content_prefix.into_bytes(),
        presented,
    );
    if check.signatures.is_empty() {
        return invalid(check.undecodable_reason(&names.signature));
    }
    let expiry = support::out_of_tolerance(timestamp, now, tolerance);
    let siblings = [
        own[0],
        own[1],
        own[2],
        "webhook-signature",
        "svix-signature",
    ];
    diagnose::timestamped_verdict(req, &check, expiry, || Mismatch {
        req,
        check: &check,
        own_headers: &siblings,
        alternative_keys: alternative_keys(secret),
        key_use: key_use(secret),
        form: None,
    })
}

/// v1a with a `whpk_` public key: any valid ed25519 signature in the list, within tolerance.
fn verify_v1a(
    req: &Request<'_>,
    display: &str,
    secret: &str,
    content_prefix: &str,
    asymmetric: &[&str],
    symmetric: usize,
    expiry: Option<String>,
) -> Verdict {
    let invalid = |reason: String| Verdict::failed(Status::Invalid, req.profile, reason);
    let key = match ed25519::public_key(secret) {
        Ok(key) => key,
        Err(reason) => return invalid(reason),
    };
    if asymmetric.is_empty() {
        let hmac_signatures: Vec<String> = support::counted(
            symmetric,
            "v1 HMAC signature, which needs the whsec_ secret",
            "v1 HMAC signatures, which need the whsec_ secret",
        )
        .into_iter()
        .collect();
        return invalid(format!(
            "{display} has no v1a,<base64> signature{}; a whpk_ public key verifies v1a (ed25519) signatures only",
            support::found_instead(&hmac_signatures, "")
        ));
    }
    let content = [content_prefix.as_bytes(), req.body].concat();
    let (valid, undecodable) = ed25519::any_valid(&key, &content, asymmetric);
    match (valid, expiry) {
        (true, None) => Verdict::verified(req.profile),
        (true, Some(reason)) => Verdict::failed(Status::Expired, req.profile, reason),
        (false, expiry) => {
            let mut reason = format!(
                "no v1a signature matched ({} checked{}) with this whpk_ public key; check that it is the sender's key and that the body, {} and timestamp are unchanged",
                asymmetric.len(),
                if undecodable > 0 {
                    format!(", {undecodable} not a base64 ed25519 signature")
                } else {
                    String::new()
                },
                "message id"
            );
            if let Some(expiry) = expiry {
                reason.push_str("; also, ");
                reason.push_str(&expiry);
            }
            invalid(reason)
        }
    }
}

/// A `whsk_` secret key given to verify: refused, saying whether its public key would match.
fn secret_key_given(
    req: &Request<'_>,
    display: &str,
    secret: &str,
    content_prefix: &str,
    asymmetric: &[&str],
) -> Verdict {
    let found = match ed25519::signing_key(secret) {
        Ok(key) => {
            let content = [content_prefix.as_bytes(), req.body].concat();
            let (valid, _) = ed25519::any_valid(&key.verifying_key(), &content, asymmetric);
            if valid {
                format!(
                    "; the v1a signature does match its public key, {}",
                    ed25519::public_key_text(&key)
                )
            } else {
                String::new()
            }
        }
        Err(reason) => format!(" ({reason})"),
    };
    Verdict::failed(
        Status::Invalid,
        req.profile,
        format!(
            "a whsk_ secret key was given where the public whpk_ key is needed to verify {display}{found}. The secret key signs; keep it on the sending side"
        ),
    )
}

pub(crate) fn sign(
    header_prefix: &str,
    secret: &Secret,
    body: &[u8],
    msg_id: &str,
    timestamp: i64,
) -> Result<Vec<(String, String)>, SignError> {
    let names = Names::new(header_prefix);
    let id_header = support::header_name(&names.id)?;
    let timestamp_header = support::header_name(&names.timestamp)?;
    let signature_header = support::header_name(&names.signature)?;
    if msg_id.is_empty() {
        return Err(SignError::EmptyMessageId);
    }
    let id = support::header_value(&id_header, msg_id.to_owned())?;
    let timestamp = support::nonnegative(timestamp)?.to_string();
    let signature = match ed25519::kind(secret.expose()) {
        KeyKind::Secret => {
            let key = ed25519::signing_key(secret.expose()).map_err(SignError::Key)?;
            let content = [id.as_bytes(), b".", timestamp.as_bytes(), b".", body].concat();
            ed25519::sign(&key, &content)
        }
        KeyKind::Public => {
            return Err(SignError::Key(
                "a whpk_ public key cannot sign: give the whsk_ secret key to sign v1a".into(),
            ))
        }
        KeyKind::Symmetric => {
            let tag = support::mac(
                Algorithm::Sha256,
                &key(secret.expose()),
                &[id.as_bytes(), b".", timestamp.as_bytes(), b".", body],
            );
            format!("v1,{}", support::encode(Encoding::Base64, &tag))
        }
    };
    Ok(vec![
        (id_header, id),
        (timestamp_header, timestamp),
        (signature_header, signature),
    ])
}

#[cfg(test)]
mod tests {
    use super::super::tests::{headers, reason};
    use super::super::{sign, verify, Scheme, Secret, Status};

    // Source: the Standard Webhooks specification repository's test vector (also reproduced by
    // `svix`), as listed in shared/signature-vectors.md.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn scheme(prefix: &str) -> Scheme {
        Scheme::StandardWebhooks {
            header_prefix: prefix.into(),
            tolerance_secs: 300,
        }
    }

    fn request(prefix: &str, signature: &str) -> Vec<(String, Vec<u8>)> {
        headers(&[
            (&format!("{prefix}-id"), ID),
            (&format!("{prefix}-timestamp"), &TS.to_string()),
            (&format!("{prefix}-signature"), signature),
        ])
    }

    /// The test vector's headers as edited by a test, checked as Avara with the vector's secret.
    fn check_headers(h: &[(String, Vec<u8>)]) -> super::Verdict {
        verify(
            "avara",
            &scheme("webhook"),
            h,
            BODY,
            &Secret::new(SECRET),
            TS,
        )
    }

    fn check(prefix: &str, signature: &str, body: &[u8], secret: &str, now: i64) -> super::Verdict {
        verify(
            "avara",
            &scheme(prefix),
            &request(prefix, signature),
            body,
            &Secret::new(secret),
            now,
        )
    }

    #[test]
    fn spec_vector_verifies_with_webhook_headers() {
        // Source: Standard Webhooks specification test vector (clock pinned to its timestamp).
        let v = check("webhook", SIG, BODY, SECRET, TS);
        assert_eq!(v.status, Status::Verified, "{v:?}");
        assert_eq!(v.reason, None);
        assert_eq!(v.profile.as_deref(), Some("avara"));
    }

    #[test]
    fn spec_vector_verifies_with_svix_headers() {
        // Source: the same vector as reproduced by `svix` (svix-* headers).
        let v = check("svix", SIG, BODY, SECRET, TS + 299);
        assert_eq!(v.status, Status::Verified, "{v:?}");
    }

    #[test]
    fn sign_reproduces_spec_vector() {
        // Source: Standard Webhooks specification test vector.
        for prefix in ["webhook", "svix"] {
            let out = sign(&scheme(prefix), &Secret::new(SECRET), BODY, ID, TS).unwrap();
            assert_eq!(
                out,
                vec![
                    (format!("{prefix}-id"), ID.to_owned()),
                    (format!("{prefix}-timestamp"), TS.to_string()),
                    (format!("{prefix}-signature"), SIG.to_owned()),
                ]
            );
        }
    }

    #[test]
    fn tampered_body_is_invalid() {
        let v = check("webhook", SIG, br#"{"test": 2432232315}"#, SECRET, TS);
        assert_eq!(v.status, Status::Invalid);
        assert!(
            reason(&v).starts_with("no signature matched (1 signature checked)"),
            "{v:?}"
        );
    }

    #[test]
    fn wrong_secret_says_how_the_secret_is_used() {
        let v = check("webhook", SIG, BODY, "whsec_dGhlIHdyb25nIGtleQ==", TS);
        assert_eq!(v.status, Status::Invalid);
        assert_eq!(
            reason(&v),
            "no signature matched (1 signature checked); check the secret (it is used as the \
             base64-decoded bytes after whsec_)"
        );
    }

    #[test]
    fn old_timestamp_is_expired() {
        let v = check("webhook", SIG, BODY, SECRET, TS + 301);
        assert_eq!(v.status, Status::Expired);
        assert_eq!(
            reason(&v),
            "timestamp is 301 s old against a 300 s tolerance"
        );
    }

    #[test]
    fn future_timestamp_is_expired() {
        let v = check("webhook", SIG, BODY, SECRET, TS - 400);
        assert_eq!(v.status, Status::Expired);
        assert_eq!(
            reason(&v),
            "timestamp is 400 s in the future against a 300 s tolerance"
        );
    }

    #[test]
    fn bad_signature_and_old_timestamp_reports_both() {
        let v = check("webhook", SIG, b"other", SECRET, TS + 1000);
        assert_eq!(v.status, Status::Invalid);
        assert!(reason(&v).ends_with("; also, timestamp is 1000 s old against a 300 s tolerance"));
    }

    #[test]
    fn missing_signature_header() {
        let h = headers(&[("webhook-id", ID), ("webhook-timestamp", "1614265330")]);
        let v = check_headers(&h);
        assert_eq!(v.status, Status::Missing);
        assert_eq!(
            reason(&v),
            "missing header webhook-signature; the profile avara expects webhook-id, \
             webhook-timestamp and webhook-signature"
        );
    }

    #[test]
    fn svix_headers_against_a_webhook_profile_is_missing_with_a_hint() {
        let v = verify(
            "avara",
            &scheme("webhook"),
            &request("svix", SIG),
            BODY,
            &Secret::new(SECRET),
            TS,
        );
        assert_eq!(v.status, Status::Missing);
        assert!(
            reason(&v).ends_with("; this request carries svix-signature; the profile is avara"),
            "{v:?}"
        );
    }

    #[test]
    fn rotation_any_entry_matches() {
        let rotated = format!("v1,Zm9vYmFyYmF6cXV4cXV1eGZvb2JhcmJhenF1eHF1dXg= v1a,abc {SIG}");
        let v = check("webhook", &rotated, BODY, SECRET, TS);
        assert_eq!(v.status, Status::Verified, "{v:?}");
        let bad = "v1,Zm9vYmFyYmF6cXV4cXV1eGZvb2JhcmJhenF1eHF1dXg= v1,YmFk";
        let v = check("webhook", bad, BODY, SECRET, TS);
        assert!(reason(&v).starts_with("no signature matched (2 signatures checked)"));
    }

    #[test]
    fn rotation_across_repeated_headers() {
        let mut h = request("webhook", "v1,YmFkYmFkYmFk");
        h.push(("webhook-signature".into(), SIG.as_bytes().to_vec()));
        let v = check_headers(&h);
        assert_eq!(v.status, Status::Verified, "{v:?}");
    }

    #[test]
    fn millisecond_timestamp_is_pointed_out() {
        let signed = sign(
            &scheme("webhook"),
            &Secret::new(SECRET),
            BODY,
            ID,
            TS * 1000,
        )
        .unwrap();
        let h: Vec<(String, Vec<u8>)> = signed
            .into_iter()
            .map(|(n, v)| (n, v.into_bytes()))
            .collect();
        let v = check_headers(&h);
        assert_eq!(v.status, Status::Expired);
        assert!(
            reason(&v)
                .ends_with("(it looks like milliseconds; a Unix timestamp in seconds is expected)"),
            "{v:?}"
        );
    }

    #[test]
    fn svix_and_webhook_headers_together_are_not_a_wrong_profile() {
        let mut h = request("svix", "v1,YmFk");
        h.extend(request("webhook", "v1,YmFk"));
        let v = verify("svix", &scheme("svix"), &h, BODY, &Secret::new(SECRET), TS);
        assert_eq!(v.status, Status::Invalid);
        assert!(!reason(&v).contains("this request carries"), "{v:?}");
    }

    #[test]
    fn non_numeric_timestamp_is_invalid() {
        let mut h = request("webhook", SIG);
        h[1].1 = b"yesterday".to_vec();
        let v = check_headers(&h);
        assert_eq!(v.status, Status::Invalid);
        assert_eq!(
            reason(&v),
            "webhook-timestamp is not a Unix timestamp in seconds: \"yesterday\""
        );
    }

    #[test]
    fn huge_timestamp_is_invalid() {
        let mut h = request("webhook", SIG);
        h[1].1 = b"99999999999999999999999".to_vec();
        let v = check_headers(&h);
        assert_eq!(v.status, Status::Invalid);
        assert!(reason(&v).starts_with("webhook-timestamp is out of range"));
    }

    #[test]
    fn entries_without_v1_are_invalid() {
        let v = check("webhook", "v2,abc garbage", BODY, SECRET, TS);
        assert_eq!(v.status, Status::Invalid);
        assert_eq!(
            reason(&v),
            "webhook-signature has no v1,<base64> signature (found versions \"v2\", 1 entry \
             without a version)"
        );
        let v = check("webhook", "v1,%%%", BODY, SECRET, TS);
        assert_eq!(
            reason(&v),
            "webhook-signature: the signature is not valid base64"
        );
    }

    #[test]
    fn diagnoses_secret_used_raw() {
        // The sender keyed the HMAC with the whole `whsec_...` text.
        let out = sign(
            &Scheme::Hmac {
                header: "x".into(),
                algorithm: super::Algorithm::Sha256,
                encoding: super::Encoding::Base64,
                prefix: None,
            },
            &Secret::new(SECRET),
            format!("{ID}.{TS}.{}", std::str::from_utf8(BODY).unwrap()).as_bytes(),
            "",
            0,
        )
        .unwrap();
        let v = check("webhook", &format!("v1,{}", out[0].1), BODY, SECRET, TS);
        assert_eq!(v.status, Status::Invalid);
        assert!(
            reason(&v).contains("matches the secret used raw instead of base64-decoded"),
            "{v:?}"
        );

        // The sender keyed it with the text after `whsec_`.
        let out = sign(
            &Scheme::Hmac {
                header: "x".into(),
                algorithm: super::Algorithm::Sha256,
                encoding: super::Encoding::Base64,
                prefix: None,
            },
            &Secret::new(&SECRET[6..]),
            format!("{ID}.{TS}.{}", std::str::from_utf8(BODY).unwrap()).as_bytes(),
            "",
            0,
        )
        .unwrap();
        let v = check("webhook", &format!("v1,{}", out[0].1), BODY, SECRET, TS);
        assert!(
            reason(&v).contains("matches the text after whsec_ used raw instead of base64-decoded"),
            "{v:?}"
        );
    }

    #[test]
    fn diagnoses_trailing_newline_in_secret() {
        let v = check("webhook", SIG, BODY, &format!("{SECRET}\n"), TS);
        assert_eq!(v.status, Status::Invalid);
        assert!(reason(&v).contains("whitespace around the secret"), "{v:?}");
    }

    #[test]
    fn diagnoses_reserialized_body() {
        // The sender signed the compact form; the body arrived with a space after the colon.
        let signed = sign(
            &scheme("webhook"),
            &Secret::new(SECRET),
            br#"{"test":2432232314}"#,
            ID,
            TS,
        )
        .unwrap();
        let v = check("webhook", &signed[2].1, BODY, SECRET, TS);
        assert_eq!(v.status, Status::Invalid);
        assert!(reason(&v).contains("re-serialized (compact)"), "{v:?}");
        assert!(reason(&v).contains("re-serialized between signing and receipt"));
    }

    #[test]
    fn secret_without_prefix_is_base64_decoded_and_non_base64_is_raw() {
        assert_eq!(
            super::key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            super::key(SECRET)
        );
        assert_eq!(super::key("not base64!"), b"not base64!".to_vec());
        let out = sign(
            &scheme("webhook"),
            &Secret::new("not base64!"),
            BODY,
            ID,
            TS,
        )
        .unwrap();
        let v = check("webhook", &out[2].1, BODY, "not base64!", TS);
        assert_eq!(v.status, Status::Verified);
    }

    #[test]
    fn sign_rejects_bad_input() {
        let s = Secret::new(SECRET);
        assert_eq!(
            sign(&scheme("webhook"), &s, BODY, "", TS),
            Err(super::SignError::EmptyMessageId)
        );
        assert!(sign(&scheme("webhook"), &s, BODY, "a\r\nb", TS).is_err());
        assert!(sign(&scheme("bad prefix"), &s, BODY, ID, TS).is_err());
        assert_eq!(
            sign(&scheme("webhook"), &s, BODY, ID, -1),
            Err(super::SignError::NegativeTimestamp(-1))
        );
    }

    mod v1a {
        use super::*;

        // Source: made with Python's `cryptography` 51.0.1 (Ed25519PrivateKey.from_private_bytes
        // of the seed 00 01 .. 1f, signing `{ID}.{TS}.{BODY}`).
        const SECRET_KEY: &str = "whsk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        const SECRET_KEY_64: &str = "whsk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8DoQe/884Qvh1w3RjnS8CZZ+TWMJulDV8d3IZkElUxuA==";
        const PUBLIC_KEY: &str = "whpk_A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";
        const V1A: &str = "v1a,yoUrgEkc12aGqm0n4Sydmdz55xJfTz4AsAgieHFjmkR7LJtqVCZOQYzvvHjI5kAey+r4iaBGxTFRrl2iBQxtDQ==";

        #[test]
        fn the_vector_verifies_with_the_public_key() {
            let v = check("webhook", V1A, BODY, PUBLIC_KEY, TS);
            assert_eq!(v.status, Status::Verified, "{v:?}");
            let mixed = format!("{SIG} {V1A}");
            let v = check("webhook", &mixed, BODY, PUBLIC_KEY, TS);
            assert_eq!(v.status, Status::Verified, "{v:?}");
            let v = check("webhook", &mixed, BODY, SECRET, TS);
            assert_eq!(v.status, Status::Verified, "v1 in a mixed list: {v:?}");
        }

        #[test]
        fn signing_with_either_secret_key_form_reproduces_the_vector() {
            for key in [SECRET_KEY, SECRET_KEY_64] {
                let out = sign(&scheme("webhook"), &Secret::new(key), BODY, ID, TS).unwrap();
                assert_eq!(out[2], ("webhook-signature".to_owned(), V1A.to_owned()));
            }
            let err = sign(&scheme("webhook"), &Secret::new(PUBLIC_KEY), BODY, ID, TS).unwrap_err();
            assert!(
                err.to_string().contains("a whpk_ public key cannot sign"),
                "{err}"
            );
        }

        #[test]
        fn failures_are_diagnosed() {
            let v = check("webhook", V1A, b"{}", PUBLIC_KEY, TS);
            assert_eq!(v.status, Status::Invalid);
            assert!(
                reason(&v).starts_with("no v1a signature matched (1 checked)"),
                "{v:?}"
            );
            let v = check("webhook", V1A, BODY, PUBLIC_KEY, TS + 301);
            assert_eq!(v.status, Status::Expired, "{v:?}");
            let v = check("webhook", V1A, BODY, SECRET_KEY, TS);
            assert_eq!(v.status, Status::Invalid);
            assert!(
                reason(&v).starts_with(
                    "a whsk_ secret key was given where the public whpk_ key is needed"
                ) && reason(&v).contains(PUBLIC_KEY),
                "{v:?}"
            );
            let v = check("webhook", V1A, BODY, SECRET, TS);
            assert!(
                reason(&v).contains("has only v1a (ed25519) signatures"),
                "{v:?}"
            );
            let v = check("webhook", SIG, BODY, PUBLIC_KEY, TS);
            assert!(reason(&v).contains("found 1 v1 HMAC signature"), "{v:?}");
            let v = check("webhook", V1A, BODY, "whpk_AAAA", TS);
            assert!(reason(&v).contains("an ed25519 public key is 32"), "{v:?}");
        }
    }
}
