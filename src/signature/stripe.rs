//! Stripe: `Stripe-Signature: t=<ts>,v1=<hex>[,v1=<hex>…]`, HMAC-SHA256 of `{t}.{body}`.

use super::diagnose::{self, MacCheck, Mismatch};
use super::support::{self, base64_decode, quote};
use super::{Algorithm, Encoding, Request, Secret, SignError, Status, Verdict};

const HEADER: &str = "stripe-signature";
const DISPLAY: &str = "Stripe-Signature";

fn alternative_keys(secret: &str) -> Vec<(Vec<u8>, String)> {
    let mut out = Vec::new();
    let encoded = secret.strip_prefix("whsec_");
    if let Some(decoded) = base64_decode(encoded.unwrap_or(secret)) {
        out.push((
            decoded,
            format!(
                "the signature matches the secret base64-decoded{} (the Standard Webhooks way); \
                 Stripe uses the secret as given{}, not decoded",
                if encoded.is_some() {
                    " after whsec_"
                } else {
                    ""
                },
                if encoded.is_some() {
                    ", whsec_ included"
                } else {
                    ""
                },
            ),
        ));
    }
    match encoded {
        Some(rest) => out.push((
            rest.as_bytes().to_vec(),
            "the signature matches the secret without its whsec_ prefix; Stripe uses the whole \
             secret as given, whsec_ included"
                .to_owned(),
        )),
        None => out.push((
            format!("whsec_{secret}").into_bytes(),
            "the signature matches with whsec_ in front of the secret: the configured secret \
             lacks its whsec_ prefix, and Stripe signs with the whole secret as given"
                .to_owned(),
        )),
    }
    if secret.trim() != secret {
        out.push((
            secret.trim().as_bytes().to_vec(),
            "the signature matches once whitespace around the secret is removed (a trailing \
             newline from a file?)"
                .to_owned(),
        ));
    }
    out
}

pub(crate) fn verify(req: &Request<'_>, tolerance: u64, now: i64) -> Verdict {
    let own = [HEADER];
    if !support::has(req.headers, HEADER) {
        return diagnose::missing(req, &[DISPLAY], &[DISPLAY], &own);
    }
    let invalid = |reason: String| Verdict::failed(Status::Invalid, req.profile, reason);

    let mut timestamps: Vec<&str> = Vec::new();
    let mut presented = Vec::new();
    let mut others = Vec::new();
    let mut malformed = 0usize;
    let mut not_utf8 = 0usize;
    for raw in support::values(req.headers, HEADER) {
        let Ok(text) = std::str::from_utf8(raw) else {
            not_utf8 += 1;
            continue;
        };
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            match item.split_once('=') {
                Some(("t", t)) => timestamps.push(t.trim()),
                Some(("v1", sig)) => presented.push(sig.trim()),
                Some((scheme, _)) => others.push(quote(scheme)),
                None => malformed += 1,
            }
        }
    }
    let timestamp_text = match timestamps.as_slice() {
        [] => {
            let detail = if not_utf8 > 0 {
                " (it is not valid UTF-8)"
            } else {
                ""
            };
            return invalid(format!("{DISPLAY} has no t= timestamp{detail}"));
        }
        [first, rest @ ..] if rest.iter().all(|t| t == first) => *first,
        _ => return invalid(format!("{DISPLAY} has several different t= timestamps")),
    };
    let timestamp = match support::parse_timestamp(timestamp_text, &format!("{DISPLAY} t=")) {
        Ok(t) => t,
        Err(reason) => return invalid(reason),
    };
    if presented.is_empty() {
        let mut found = others;
        found.extend(support::counted(
            malformed,
            "item without =",
            "items without =",
        ));
        let found = support::found_instead(&found, "");
        return invalid(format!("{DISPLAY} has no v1= signature{found}"));
    }

    let secret = req.secret.expose();
    let check = MacCheck::new(
        Algorithm::Sha256,
        Encoding::Hex,
        secret.as_bytes().to_vec(),
        format!("{timestamp_text}.").into_bytes(),
        presented,
    );
    if check.signatures.is_empty() {
        return invalid(check.undecodable_reason(DISPLAY));
    }
    if let Some(reason) =
        check.inexact_hex_reason(req.body, DISPLAY, "Stripe's Webhook.construct_event")
    {
        return invalid(reason);
    }
    // Stripe's libraries refuse only timestamps older than the tolerance: one in the future passes.
    let expiry = support::out_of_tolerance(timestamp, now, tolerance).filter(|_| timestamp < now);
    let key_use = if secret.starts_with("whsec_") {
        "literal bytes, as given, whsec_ included"
    } else {
        "literal bytes, as given"
    };
    diagnose::timestamped_verdict(req, &check, expiry, || Mismatch {
        req,
        check: &check,
        own_headers: &own,
        alternative_keys: alternative_keys(secret),
        key_use,
        form: None,
    })
}

pub(crate) fn sign(
    secret: &Secret,
    body: &[u8],
    timestamp: i64,
) -> Result<Vec<(String, String)>, SignError> {
    let t = support::nonnegative(timestamp)?.to_string();
    let tag = support::mac(
        Algorithm::Sha256,
        secret.bytes(),
        &[t.as_bytes(), b".", body],
    );
    Ok(vec![(
        HEADER.to_owned(),
        format!("t={t},v1={}", hex::encode(tag)),
    )])
}

#[cfg(test)]
mod tests {
    use super::super::tests::{headers, reason};
    use super::super::{sign, verify, Scheme, Secret, Status, Verdict};

    // Source: generated and verified with `stripe` (Python) 16.1 `WebhookSignature`, as listed
    // in shared/signature-vectors.md.
    const SECRET: &str = "whsec_test_vector";
    const BODY: &[u8] = br#"{"id":"evt_1","object":"event","type":"payment_intent.succeeded"}"#;
    const TS: i64 = 1700000000;
    const V1: &str = "d43d398d6e65729dc18c8a19c2a2d610d300d43a5f9b73f712e560bc410e9f7e";

    const SCHEME: Scheme = Scheme::Stripe {
        tolerance_secs: 300,
    };

    fn check(header: &str, body: &[u8], secret: &str, now: i64) -> Verdict {
        verify(
            "stripe",
            &SCHEME,
            &headers(&[("stripe-signature", header)]),
            body,
            &Secret::new(secret),
            now,
        )
    }

    fn vector_header() -> String {
        format!("t={TS},v1={V1}")
    }

    #[test]
    fn stripe_vector_verifies() {
        // Source: `stripe` (Python) 16.1 `WebhookSignature` vector.
        let v = check(&vector_header(), BODY, SECRET, TS + 10);
        assert_eq!(v.status, Status::Verified, "{v:?}");
    }

    #[test]
    fn sign_reproduces_stripe_vector() {
        // Source: `stripe` (Python) 16.1 `WebhookSignature` vector.
        let out = sign(&SCHEME, &Secret::new(SECRET), BODY, "ignored", TS).unwrap();
        assert_eq!(out, vec![("stripe-signature".to_owned(), vector_header())]);
    }

    #[test]
    fn tampered_body_is_invalid() {
        let v = check(&vector_header(), br#"{"id":"evt_2"}"#, SECRET, TS);
        assert_eq!(v.status, Status::Invalid);
        assert!(reason(&v).starts_with("no signature matched (1 signature checked)"));
    }

    #[test]
    fn wrong_secret_says_how_the_secret_is_used() {
        let v = check(&vector_header(), BODY, "whsec_other", TS);
        assert_eq!(
            reason(&v),
            "no signature matched (1 signature checked); check the secret (it is used as \
             literal bytes, as given, whsec_ included)"
        );
    }

    #[test]
    fn expired_but_never_too_new_as_in_stripes_library() {
        let v = check(&vector_header(), BODY, SECRET, TS + 301);
        assert_eq!(v.status, Status::Expired);
        assert_eq!(
            reason(&v),
            "timestamp is 301 s old against a 300 s tolerance"
        );
        // stripe-python's verify_header refuses only `timestamp < now - tolerance`.
        let v = check(&vector_header(), BODY, SECRET, TS - 600);
        assert_eq!(v.status, Status::Verified, "{v:?}");
    }

    #[test]
    fn upper_case_hex_is_refused_as_stripes_library_refuses_it() {
        let upper = vector_header()
            .to_ascii_uppercase()
            .replace("T=", "t=")
            .replace("V1=", "v1=");
        let v = check(&upper, BODY, SECRET, TS);
        assert_eq!(v.status, Status::Invalid, "{v:?}");
        assert!(reason(&v).contains("lower-case hex"), "{v:?}");
    }

    #[test]
    fn missing_header() {
        let v = verify("stripe", &SCHEME, &[], BODY, &Secret::new(SECRET), TS);
        assert_eq!(v.status, Status::Missing);
        assert_eq!(
            reason(&v),
            "missing header Stripe-Signature; the profile stripe expects Stripe-Signature"
        );
    }

    #[test]
    fn rotation_several_v1() {
        let header = format!("t={TS},v1={},v0=abc,v1={V1}", "00".repeat(32));
        let v = check(&header, BODY, SECRET, TS);
        assert_eq!(v.status, Status::Verified, "{v:?}");
        let header = format!("t={TS},v1={},v1={}", "00".repeat(32), "11".repeat(32));
        let v = check(&header, BODY, SECRET, TS);
        assert!(reason(&v).starts_with("no signature matched (2 signatures checked)"));
    }

    #[test]
    fn unparseable_headers() {
        let v = check(&format!("v1={V1}"), BODY, SECRET, TS);
        assert_eq!(reason(&v), "Stripe-Signature has no t= timestamp");
        let v = check("t=soon,v1=00", BODY, SECRET, TS);
        assert_eq!(v.status, Status::Invalid);
        assert!(reason(&v).contains("not a Unix timestamp"), "{v:?}");
        let v = check(&format!("t={TS},v0=abc"), BODY, SECRET, TS);
        assert_eq!(
            reason(&v),
            "Stripe-Signature has no v1= signature (found \"v0\")"
        );
        let v = check(&format!("t={TS},v0=abc,junk"), BODY, SECRET, TS);
        assert_eq!(
            reason(&v),
            "Stripe-Signature has no v1= signature (found \"v0\", 1 item without =)"
        );
        let v = check(&format!("t={TS}"), BODY, SECRET, TS);
        assert_eq!(reason(&v), "Stripe-Signature has no v1= signature");
        let v = check(&format!("t={TS},v1=xyz"), BODY, SECRET, TS);
        assert_eq!(
            reason(&v),
            "Stripe-Signature: the signature is not valid hex"
        );
        let v = check("t=1,t=2,v1=00", BODY, SECRET, TS);
        assert_eq!(
            reason(&v),
            "Stripe-Signature has several different t= timestamps"
        );
    }

    #[test]
    fn diagnoses_secret_base64_decoded() {
        // Sender signed like Standard Webhooks: base64-decoded the part after whsec_.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let key = super::base64_decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let tag = super::support::mac(
            super::Algorithm::Sha256,
            &key,
            &[format!("{TS}.").as_bytes(), BODY],
        );
        let v = check(&format!("t={TS},v1={}", hex::encode(tag)), BODY, secret, TS);
        assert_eq!(v.status, Status::Invalid);
        assert!(
            reason(&v).contains(
                "matches the secret base64-decoded after whsec_ (the Standard Webhooks way); \
                 Stripe uses the secret as given, whsec_ included, not decoded"
            ),
            "{v:?}"
        );
    }

    #[test]
    fn diagnoses_secret_without_prefix() {
        let signed = sign(&SCHEME, &Secret::new("test_vector"), BODY, "", TS).unwrap();
        let v = check(&signed[0].1, BODY, SECRET, TS);
        assert!(
            reason(&v).contains("matches the secret without its whsec_ prefix"),
            "{v:?}"
        );
        let v = check(&vector_header(), BODY, "test_vector", TS);
        assert!(reason(&v).contains("lacks its whsec_ prefix"), "{v:?}");
    }

    #[test]
    fn diagnoses_wrong_profile() {
        let mut h = headers(&[("stripe-signature", &vector_header())]);
        h.push(("x-hub-signature-256".into(), b"sha256=00".to_vec()));
        let v = verify("stripe", &SCHEME, &h, b"x", &Secret::new(SECRET), TS);
        assert!(
            reason(&v).ends_with("this request carries X-Hub-Signature-256; the profile is stripe"),
            "{v:?}"
        );
    }
}
