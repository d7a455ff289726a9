//! Slack: `X-Slack-Signature: v0=<hex>` HMAC-SHA256 of `v0:{timestamp}:{body}`.

use super::diagnose::{self, MacCheck, Mismatch};
use super::support::{self, quote};
use super::{Algorithm, Encoding, Request, Secret, SignError, Status, Verdict};

const SIGNATURE: &str = "x-slack-signature";
const TIMESTAMP: &str = "x-slack-request-timestamp";
const SIGNATURE_DISPLAY: &str = "X-Slack-Signature";
const TIMESTAMP_DISPLAY: &str = "X-Slack-Request-Timestamp";

pub(crate) fn verify(req: &Request<'_>, tolerance: u64, now: i64) -> Verdict {
    let own = [SIGNATURE, TIMESTAMP];
    let missing: Vec<&str> = [
        (SIGNATURE, SIGNATURE_DISPLAY),
        (TIMESTAMP, TIMESTAMP_DISPLAY),
    ]
    .iter()
    .filter(|(name, _)| !support::has(req.headers, name))
    .map(|(_, display)| *display)
    .collect();
    if !missing.is_empty() {
        return diagnose::missing(req, &missing, &[SIGNATURE_DISPLAY, TIMESTAMP_DISPLAY], &own);
    }
    let invalid = |reason: String| Verdict::failed(Status::Invalid, req.profile, reason);

    let timestamp_text = match support::single_text(req.headers, TIMESTAMP, TIMESTAMP_DISPLAY) {
        Ok(text) => text.unwrap_or_default(),
        Err(reason) => return invalid(reason),
    };
    let timestamp = match support::parse_timestamp(timestamp_text, TIMESTAMP_DISPLAY) {
        Ok(t) => t,
        Err(reason) => return invalid(reason),
    };

    let (tokens, not_utf8) = support::tokens(req.headers, SIGNATURE);
    let mut presented = Vec::new();
    let mut others = Vec::new();
    for token in tokens {
        match token.strip_prefix("v0=") {
            Some(sig) => presented.push(sig),
            None => others.push(quote(token)),
        }
    }
    if presented.is_empty() {
        let nothing = if not_utf8 > 0 {
            "it is not valid UTF-8"
        } else {
            "it is empty"
        };
        let found = support::found_instead(&others, nothing);
        return invalid(format!("{SIGNATURE_DISPLAY} has no v0= signature{found}"));
    }

    let secret = req.secret.expose();
    let check = MacCheck::new(
        Algorithm::Sha256,
        Encoding::Hex,
        secret.as_bytes().to_vec(),
        format!("v0:{timestamp_text}:").into_bytes(),
        presented,
    );
    if check.signatures.is_empty() {
        return invalid(check.undecodable_reason(SIGNATURE_DISPLAY));
    }
    if let Some(reason) =
        check.inexact_hex_reason(req.body, SIGNATURE_DISPLAY, "slack_sdk's SignatureVerifier")
    {
        return invalid(reason);
    }
    let expiry = support::out_of_tolerance(timestamp, now, tolerance);
    diagnose::timestamped_verdict(req, &check, expiry, || Mismatch {
        req,
        check: &check,
        own_headers: &own,
        alternative_keys: diagnose::literal_key_alternatives(secret),
        key_use: "literal bytes, as given (the signing secret, not the verification token)",
        form: None,
    })
}

pub(crate) fn sign(
    secret: &Secret,
    body: &[u8],
    timestamp: i64,
) -> Result<Vec<(String, String)>, SignError> {
    let ts = support::nonnegative(timestamp)?.to_string();
    let tag = support::mac(
        Algorithm::Sha256,
        secret.bytes(),
        &[b"v0:", ts.as_bytes(), b":", body],
    );
    Ok(vec![
        (TIMESTAMP.to_owned(), ts),
        (SIGNATURE.to_owned(), format!("v0={}", hex::encode(tag))),
    ])
}

#[cfg(test)]
mod tests {
    use super::super::tests::{headers, reason};
    use super::super::{sign, verify, Scheme, Secret, Status, Verdict};

    // Source: Slack's documentation, "Verifying requests from Slack" (its worked example), as
    // listed in shared/signature-vectors.md.
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TS: i64 = 1531420618;
    const BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    const SCHEME: Scheme = Scheme::Slack {
        tolerance_secs: 300,
    };

    fn check(sig: &str, body: &[u8], secret: &str, now: i64) -> Verdict {
        let h = headers(&[
            ("x-slack-request-timestamp", &TS.to_string()),
            ("x-slack-signature", sig),
        ]);
        verify("slack", &SCHEME, &h, body, &Secret::new(secret), now)
    }

    #[test]
    fn documented_example_verifies() {
        // Source: Slack docs, "Verifying requests from Slack", worked example (clock pinned).
        let v = check(SIG, BODY, SECRET, TS + 60);
        assert_eq!(v.status, Status::Verified, "{v:?}");
    }

    #[test]
    fn sign_reproduces_documented_example() {
        // Source: Slack docs, "Verifying requests from Slack", worked example.
        let out = sign(&SCHEME, &Secret::new(SECRET), BODY, "", TS).unwrap();
        assert_eq!(
            out,
            vec![
                ("x-slack-request-timestamp".to_owned(), TS.to_string()),
                ("x-slack-signature".to_owned(), SIG.to_owned()),
            ]
        );
    }

    #[test]
    fn tampered_and_wrong_secret() {
        assert_eq!(
            check(SIG, b"token=other", SECRET, TS).status,
            Status::Invalid
        );
        let v = check(SIG, BODY, "8f742231b10e8888abcd99yyyzzz85a6", TS);
        assert!(reason(&v).contains("check the secret"), "{v:?}");
    }

    #[test]
    fn expired_both_ways() {
        let v = check(SIG, BODY, SECRET, TS + 301);
        assert_eq!(v.status, Status::Expired);
        assert_eq!(
            reason(&v),
            "timestamp is 301 s old against a 300 s tolerance"
        );
        let v = check(SIG, BODY, SECRET, TS - 500);
        assert_eq!(
            reason(&v),
            "timestamp is 500 s in the future against a 300 s tolerance"
        );
    }

    #[test]
    fn missing_headers() {
        let h = headers(&[("x-slack-signature", SIG)]);
        let v = verify("slack", &SCHEME, &h, BODY, &Secret::new(SECRET), TS);
        assert_eq!(v.status, Status::Missing);
        assert_eq!(
            reason(&v),
            "missing header X-Slack-Request-Timestamp; the profile slack expects \
             X-Slack-Signature and X-Slack-Request-Timestamp"
        );
        let v = verify("slack", &SCHEME, &[], BODY, &Secret::new(SECRET), TS);
        assert!(reason(&v)
            .starts_with("missing headers X-Slack-Signature and X-Slack-Request-Timestamp"));
    }

    #[test]
    fn rotation_any_signature_matches() {
        let both = format!("v0={} {SIG}", "0".repeat(64));
        assert_eq!(check(&both, BODY, SECRET, TS).status, Status::Verified);
        let mut h = headers(&[
            ("x-slack-request-timestamp", &TS.to_string()),
            ("x-slack-signature", "v0=00"),
        ]);
        h.push(("x-slack-signature".into(), SIG.as_bytes().to_vec()));
        let v = verify("slack", &SCHEME, &h, BODY, &Secret::new(SECRET), TS);
        assert_eq!(v.status, Status::Verified, "{v:?}");
    }

    #[test]
    fn unparseable() {
        let v = check("a2114d57", BODY, SECRET, TS);
        assert_eq!(
            reason(&v),
            "X-Slack-Signature has no v0= signature (found \"a2114d57\")"
        );
        let h = headers(&[
            ("x-slack-request-timestamp", "1531420618.5"),
            ("x-slack-signature", SIG),
        ]);
        let v = verify("slack", &SCHEME, &h, BODY, &Secret::new(SECRET), TS);
        assert_eq!(v.status, Status::Invalid);
        assert!(reason(&v).starts_with("X-Slack-Request-Timestamp is not a Unix timestamp"));
    }
}
