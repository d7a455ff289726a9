//! Schemes that MAC the raw body into one header: GitHub, Shopify, Avala and generic HMAC.

use super::diagnose::{self, MacCheck, Mismatch};
use super::support::{self, algorithm_name, encoding_name, quote};
use super::{Algorithm, Encoding, Request, Secret, SignError, Status, Verdict};

/// One body-MAC header format.
pub(crate) struct BodyMac<'a> {
    header: &'a str,
    display: &'a str,
    algorithm: Algorithm,
    encoding: Encoding,
    prefix: Option<&'a str>,
    /// Described in reasons when the format varies between senders.
    describe_form: bool,
    /// The provider's own verifier compares the header's text with the canonical encoding
    /// (lower-case hex, padded base64) rather than the decoded bytes.
    exact_text: bool,
}

impl<'a> BodyMac<'a> {
    pub(crate) fn shopify() -> BodyMac<'static> {
        BodyMac {
            header: "x-shopify-hmac-sha256",
            display: "X-Shopify-Hmac-Sha256",
            algorithm: Algorithm::Sha256,
            encoding: Encoding::Base64,
            prefix: None,
            describe_form: false,
            exact_text: true,
        }
    }

    pub(crate) fn avala() -> BodyMac<'static> {
        BodyMac {
            header: "x-avala-signature",
            display: "X-Avala-Signature",
            algorithm: Algorithm::Sha256,
            encoding: Encoding::Hex,
            prefix: None,
            describe_form: true,
            exact_text: true,
        }
    }

    pub(crate) fn generic(
        header: &'a str,
        algorithm: Algorithm,
        encoding: Encoding,
        prefix: Option<&'a str>,
    ) -> Self {
        BodyMac {
            header,
            display: header,
            algorithm,
            encoding,
            prefix: prefix.filter(|p| !p.is_empty()),
            describe_form: true,
            exact_text: false,
        }
    }

    fn github_256() -> BodyMac<'static> {
        BodyMac {
            header: "x-hub-signature-256",
            display: "X-Hub-Signature-256",
            algorithm: Algorithm::Sha256,
            encoding: Encoding::Hex,
            prefix: Some("sha256="),
            describe_form: false,
            exact_text: true,
        }
    }

    fn github_legacy() -> BodyMac<'static> {
        BodyMac {
            header: "x-hub-signature",
            display: "X-Hub-Signature",
            algorithm: Algorithm::Sha1,
            encoding: Encoding::Hex,
            prefix: Some("sha1="),
            describe_form: false,
            exact_text: true,
        }
    }

    fn form(&self) -> String {
        let prefix = match self.prefix {
            Some(p) => format!("prefix {}", quote(p)),
            None => "no prefix".to_owned(),
        };
        format!(
            "{} {} of the raw body in {}, {prefix}",
            encoding_name(self.encoding),
            algorithm_name(self.algorithm),
            self.display
        )
    }
}

const GITHUB_HEADERS: [&str; 2] = ["x-hub-signature-256", "x-hub-signature"];

/// GitHub: `X-Hub-Signature-256`. A request signed only with the legacy SHA-1
/// `X-Hub-Signature` is refused, as GitHub's own libraries (`@octokit/webhooks`) refuse it; the
/// reason says whether the legacy signature would have matched.
pub(crate) fn verify_github(req: &Request<'_>) -> Verdict {
    if support::has(req.headers, "x-hub-signature-256") {
        let verdict = check(req, &BodyMac::github_256(), &GITHUB_HEADERS);
        if verdict.status == Status::Verified && req.body.is_empty() {
            return Verdict::failed(
                Status::Invalid,
                req.profile,
                "the body is empty: GitHub never sends an empty webhook, and @octokit/webhooks-methods' verify refuses an empty payload even when the signature matches".to_owned(),
            );
        }
        verdict
    } else if support::has(req.headers, "x-hub-signature") {
        let legacy = check(req, &BodyMac::github_legacy(), &GITHUB_HEADERS);
        let found = if legacy.status == Status::Verified {
            "it matches".to_owned()
        } else {
            format!(
                "it does not match either ({})",
                legacy.reason.unwrap_or_default()
            )
        };
        Verdict::failed(
            Status::Missing,
            req.profile,
            format!(
                "X-Hub-Signature-256 is missing; only the legacy SHA-1 X-Hub-Signature is present and {found}. GitHub's libraries (@octokit/webhooks) verify X-Hub-Signature-256 only: GitHub sends both, so a request without it was not sent by GitHub as it is today"
            ),
        )
    } else {
        diagnose::missing(
            req,
            &["X-Hub-Signature-256"],
            &["X-Hub-Signature-256"],
            &GITHUB_HEADERS,
        )
    }
}

pub(crate) fn verify(req: &Request<'_>, spec: &BodyMac<'_>) -> Verdict {
    if !support::has(req.headers, spec.header) {
        return diagnose::missing(req, &[spec.display], &[spec.display], &[spec.header]);
    }
    check(req, spec, &[spec.header])
}

fn strip_prefix<'t>(token: &'t str, prefix: &str) -> Option<&'t str> {
    let head = token.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &token[prefix.len()..])
}

/// A `name=` in front of a token, as senders that label their algorithm write it.
fn label(token: &str) -> Option<(&str, &str)> {
    let (name, rest) = token.split_once('=')?;
    let plausible = (1..=10).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric())
        && !rest.is_empty()
        && !rest.starts_with('=');
    plausible.then(|| (&token[..=name.len()], rest))
}

/// The signatures in every value of the header: a value that is one well-formed signature is
/// taken whole (so a prefix may contain commas or spaces), any other is split on commas and
/// whitespace. Also returns how many values were not UTF-8.
fn tokens<'h>(headers: &'h super::Headers, spec: &BodyMac<'_>) -> (Vec<&'h str>, usize) {
    let mut out = Vec::new();
    let mut not_utf8 = 0;
    for raw in support::values(headers, spec.header) {
        let Ok(text) = std::str::from_utf8(raw) else {
            not_utf8 += 1;
            continue;
        };
        let whole = text.trim();
        let bare = match spec.prefix {
            Some(prefix) => strip_prefix(whole, prefix),
            None => Some(whole),
        };
        if bare.is_some_and(|b| !b.is_empty() && support::decode(spec.encoding, b).is_some()) {
            out.push(whole);
        } else {
            out.extend(
                whole
                    .split(|c: char| c == ',' || c.is_ascii_whitespace())
                    .filter(|t| !t.is_empty()),
            );
        }
    }
    (out, not_utf8)
}

/// Why a signature that matches as bytes would still be refused by the provider's verifier,
/// which compares the exact text (`sha256=` and lower-case hex, or padded base64).
fn inexact_text(req: &Request<'_>, spec: &BodyMac<'_>, check: &MacCheck<'_>) -> Option<String> {
    let mac = support::mac(spec.algorithm, &check.key, &[req.body]);
    let canonical = support::encode(spec.encoding, &mac);
    let canonical = format!("{}{canonical}", spec.prefix.unwrap_or_default());
    let values = support::values(req.headers, spec.header)
        .filter_map(|raw| std::str::from_utf8(raw).ok())
        .collect::<Vec<_>>();
    let exact = matches!(values.as_slice(), [only]
        if subtle::ConstantTimeEq::ct_eq(only.as_bytes(), canonical.as_bytes()).into());
    if exact {
        return None;
    }
    let what = match spec.encoding {
        Encoding::Hex if values.iter().any(|v| v.bytes().any(|b| b.is_ascii_uppercase())) => {
            "it is written in upper case or mixed case, and the provider's verifier compares lower-case hex exactly"
        }
        _ if values.len() > 1 => "it arrived in several values (or headers), and the provider's verifier compares the one header's whole text with its own signature",
        _ => "it is not written exactly as the provider writes it (canonical encoding, no spaces or lists), and the provider's verifier compares the text exactly",
    };
    Some(format!(
        "{} matches the body as bytes, but {what}: {} would refuse it. The provider sends {}",
        spec.display,
        verifier_name(spec.header),
        quote(&format!(
            "{}{}",
            spec.prefix.unwrap_or_default(),
            match spec.encoding {
                Encoding::Hex => "<lower-case hex>",
                Encoding::Base64 => "<base64>",
            }
        ))
    ))
}

fn verifier_name(header: &str) -> &'static str {
    match header {
        "x-hub-signature-256" | "x-hub-signature" => "@octokit/webhooks-methods' verify",
        "x-shopify-hmac-sha256" => "@shopify/shopify-api's webhooks.validate",
        "x-avala-signature" => "Avala's verifier (hmac.compare_digest of the hex digest)",
        _ => "the provider's verifier",
    }
}

/// Shopify: the HMAC of a non-empty body, and the headers `@shopify/shopify-api`'s
/// `webhooks.validate` requires of every webhook.
pub(crate) fn verify_shopify(req: &Request<'_>) -> Verdict {
    let spec = BodyMac::shopify();
    let verdict = verify(req, &spec);
    if verdict.status != Status::Verified {
        return verdict;
    }
    if req.body.is_empty() {
        return Verdict::failed(
            Status::Invalid,
            req.profile,
            "the body is empty: Shopify never sends an empty webhook, and @shopify/shopify-api's webhooks.validate refuses one (MissingBody) even when the HMAC matches".to_owned(),
        );
    }
    let missing: Vec<&str> = SHOPIFY_REQUIRED
        .iter()
        .filter(|(name, _)| !support::values(req.headers, name).any(|v| !v.is_empty()))
        .map(|(_, display)| *display)
        .collect();
    if missing.is_empty() {
        return verdict;
    }
    Verdict::failed(
        Status::Invalid,
        req.profile,
        format!(
            "the HMAC matches, but {} {} missing: Shopify sends them with every webhook, and @shopify/shopify-api's webhooks.validate refuses a request without them (MissingHeaders)",
            support::join_and(&missing),
            if missing.len() == 1 { "is" } else { "are" }
        ),
    )
}

/// The headers besides the HMAC that Shopify's library requires, lower-case and as displayed.
const SHOPIFY_REQUIRED: [(&str, &str); 4] = [
    ("x-shopify-topic", "X-Shopify-Topic"),
    ("x-shopify-shop-domain", "X-Shopify-Shop-Domain"),
    ("x-shopify-api-version", "X-Shopify-API-Version"),
    ("x-shopify-webhook-id", "X-Shopify-Webhook-Id"),
];

fn check(req: &Request<'_>, spec: &BodyMac<'_>, own: &[&str]) -> Verdict {
    let invalid = |reason: String| Verdict::failed(Status::Invalid, req.profile, reason);
    let (tokens, not_utf8) = tokens(req.headers, spec);
    if tokens.is_empty() {
        return invalid(if not_utf8 > 0 {
            format!("{} is not valid UTF-8", spec.display)
        } else {
            format!("{} is empty", spec.display)
        });
    }
    let secret = req.secret.expose();
    let key = secret.as_bytes().to_vec();

    let (presented, unprefixed): (Vec<&str>, Vec<&str>) = match spec.prefix {
        Some(prefix) => {
            let mut with = Vec::new();
            let mut without = Vec::new();
            for t in &tokens {
                match strip_prefix(t, prefix) {
                    Some(rest) => with.push(rest),
                    None => without.push(*t),
                }
            }
            (with, without)
        }
        None => (tokens.clone(), Vec::new()),
    };

    if presented.is_empty() {
        let prefix = spec.prefix.unwrap_or_default();
        let mut reason = format!("{} does not start with {}", spec.display, quote(prefix));
        let bare = MacCheck::new(spec.algorithm, spec.encoding, key, Vec::new(), unprefixed);
        if bare.matches(req.body) {
            reason.push_str(&format!(
                "; without it the signature matches: the sender does not write the {} prefix",
                quote(prefix)
            ));
        } else if let Some(found) = tokens.iter().find_map(|t| label(t)) {
            reason.push_str(&format!(" (it starts with {})", quote(found.0)));
        }
        return invalid(reason);
    }

    let check = MacCheck::new(spec.algorithm, spec.encoding, key, Vec::new(), presented);
    if check.signatures.is_empty() {
        let mut reason = check.undecodable_reason(spec.display);
        if spec.prefix.is_none() {
            if let Some((found, rest)) = tokens.iter().find_map(|t| label(t)) {
                reason.push_str(&format!(
                    "; it starts with {}, and the profile expects no prefix",
                    quote(found)
                ));
                let relabelled = MacCheck::new(
                    spec.algorithm,
                    spec.encoding,
                    check.key.clone(),
                    Vec::new(),
                    vec![rest],
                );
                if relabelled.matches(req.body) {
                    reason.push_str(&format!(
                        "; without it the signature matches: use an hmac profile with prefix {}",
                        quote(found)
                    ));
                }
            }
        }
        if let Some(found) = diagnose::other_form(&check, req.body) {
            reason.push_str("; ");
            reason.push_str(&found);
        }
        return invalid(reason);
    }
    if check.matches(req.body) {
        if spec.exact_text {
            if let Some(reason) = inexact_text(req, spec, &check) {
                return invalid(reason);
            }
        }
        return Verdict::verified(req.profile);
    }
    let mut reason = diagnose::explain(&Mismatch {
        req,
        check: &check,
        own_headers: own,
        alternative_keys: diagnose::literal_key_alternatives(secret),
        key_use: "literal bytes, as given",
        form: spec.describe_form.then(|| spec.form()),
    });
    if !unprefixed.is_empty() {
        reason.push_str(&format!(
            "; {} lacked the {} prefix",
            support::count(unprefixed.len(), "other value", "other values"),
            quote(spec.prefix.unwrap_or_default())
        ));
    }
    invalid(reason)
}

pub(crate) fn sign(
    spec: &BodyMac<'_>,
    secret: &Secret,
    body: &[u8],
) -> Result<Vec<(String, String)>, SignError> {
    let header = support::header_name(spec.header)?;
    let tag = support::mac(spec.algorithm, secret.bytes(), &[body]);
    let value = format!(
        "{}{}",
        spec.prefix.unwrap_or_default(),
        support::encode(spec.encoding, &tag)
    );
    let value = support::header_value(&header, value)?;
    Ok(vec![(header, value)])
}

/// Both headers GitHub sends: `X-Hub-Signature-256` and the legacy `X-Hub-Signature`.
pub(crate) fn sign_github(secret: &Secret, body: &[u8]) -> Vec<(String, String)> {
    [BodyMac::github_256(), BodyMac::github_legacy()]
        .iter()
        .map(|spec| {
            let tag = support::mac(spec.algorithm, secret.bytes(), &[body]);
            (
                spec.header.to_owned(),
                format!("{}{}", spec.prefix.unwrap_or_default(), hex::encode(tag)),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{headers, reason};
    use super::super::{sign, verify, Algorithm, Encoding, Scheme, Secret, Status, Verdict};

    fn check(scheme: &Scheme, h: &[(&str, &str)], body: &[u8], secret: &str) -> Verdict {
        verify("p", scheme, &headers(h), body, &Secret::new(secret), 0)
    }

    mod github {
        use super::*;

        // Source: GitHub's documentation, "Validating webhook deliveries", as listed in
        // shared/signature-vectors.md.
        const SECRET: &str = "It's a Secret to Everybody";
        const BODY: &[u8] = b"Hello, World!";
        const SIG: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

        fn gh(h: &[(&str, &str)], body: &[u8], secret: &str) -> Verdict {
            verify(
                "github",
                &Scheme::Github,
                &headers(h),
                body,
                &Secret::new(secret),
                0,
            )
        }

        #[test]
        fn documented_vector_verifies() {
            // Source: GitHub docs, "Validating webhook deliveries".
            let v = gh(&[("x-hub-signature-256", SIG)], BODY, SECRET);
            assert_eq!(v.status, Status::Verified, "{v:?}");
        }

        #[test]
        fn sign_reproduces_documented_vector() {
            // Source: GitHub docs, "Validating webhook deliveries".
            let out = sign(&Scheme::Github, &Secret::new(SECRET), BODY, "", 0).unwrap();
            assert_eq!(out[0], ("x-hub-signature-256".to_owned(), SIG.to_owned()));
            assert_eq!(out[1].0, "x-hub-signature");
            assert!(out[1].1.starts_with("sha1="));
        }

        #[test]
        fn legacy_sha1_header_alone_is_refused_as_octokit_refuses_it() {
            let out = sign(&Scheme::Github, &Secret::new(SECRET), BODY, "", 0).unwrap();
            let v = gh(&[("x-hub-signature", &out[1].1)], BODY, SECRET);
            assert_eq!(v.status, Status::Missing, "{v:?}");
            assert!(
                reason(&v)
                    .contains("only the legacy SHA-1 X-Hub-Signature is present and it matches"),
                "{v:?}"
            );
            let v = gh(&[("x-hub-signature", &out[1].1)], b"tampered", SECRET);
            assert_eq!(v.status, Status::Missing);
            assert!(reason(&v).contains("does not match either"), "{v:?}");
        }

        #[test]
        fn upper_case_hex_is_refused_as_octokit_refuses_it() {
            let upper = format!("sha256={}", SIG["sha256=".len()..].to_ascii_uppercase());
            let v = gh(&[("x-hub-signature-256", &upper)], BODY, SECRET);
            assert_eq!(v.status, Status::Invalid, "{v:?}");
            assert!(reason(&v).contains("upper case"), "{v:?}");
            assert!(reason(&v).contains("@octokit/webhooks-methods"), "{v:?}");
        }

        #[test]
        fn tampered_wrong_secret_missing_rotation() {
            let v = gh(&[("x-hub-signature-256", SIG)], b"Hello, World?", SECRET);
            assert_eq!(v.status, Status::Invalid);
            let v = gh(&[("x-hub-signature-256", SIG)], BODY, "another secret");
            assert_eq!(
                reason(&v),
                "no signature matched (1 signature checked); check the secret (it is used as \
                 literal bytes, as given)"
            );
            let v = gh(&[], BODY, SECRET);
            assert_eq!(v.status, Status::Missing);
            assert_eq!(
                reason(&v),
                "missing header X-Hub-Signature-256; the profile github expects \
                 X-Hub-Signature-256"
            );
            let zero = format!("sha256={}", "0".repeat(64));
            let v = gh(
                &[("x-hub-signature-256", &zero), ("x-hub-signature-256", SIG)],
                BODY,
                SECRET,
            );
            assert_eq!(v.status, Status::Invalid, "{v:?}");
            assert!(reason(&v).contains("several values"), "{v:?}");
        }

        #[test]
        fn missing_prefix_is_reported() {
            let bare = &SIG["sha256=".len()..];
            let v = gh(&[("x-hub-signature-256", bare)], BODY, SECRET);
            assert_eq!(v.status, Status::Invalid);
            assert_eq!(
                reason(&v),
                "X-Hub-Signature-256 does not start with \"sha256=\"; without it the signature \
                 matches: the sender does not write the \"sha256=\" prefix"
            );
        }

        #[test]
        fn stripe_header_on_github_profile() {
            // Wrong profile: the request carries another scheme's headers.
            let v = gh(&[("stripe-signature", "t=1,v1=00")], BODY, SECRET);
            assert_eq!(v.status, Status::Missing);
            assert!(
                reason(&v)
                    .ends_with("; this request carries Stripe-Signature; the profile is github"),
                "{v:?}"
            );
            let v = gh(
                &[
                    ("x-hub-signature-256", "sha256=00"),
                    ("stripe-signature", "t=1,v1=00"),
                ],
                BODY,
                SECRET,
            );
            assert_eq!(v.status, Status::Invalid);
            assert!(
                reason(&v)
                    .ends_with("; this request carries Stripe-Signature; the profile is github"),
                "{v:?}"
            );
        }

        #[test]
        fn base64_signature_is_explained() {
            use base64::Engine;
            let tag = hex::decode(&SIG[7..]).unwrap();
            let b64 = base64::engine::general_purpose::STANDARD.encode(tag);
            let v = gh(
                &[("x-hub-signature-256", &format!("sha256={b64}"))],
                BODY,
                SECRET,
            );
            assert_eq!(v.status, Status::Invalid);
            assert_eq!(
                reason(&v),
                "X-Hub-Signature-256: the signature is not valid hex; the signature is base64 \
                 HMAC-SHA256, and the profile expects hex HMAC-SHA256"
            );
        }
    }

    mod shopify {
        use super::*;

        // Source: HMAC-SHA256 of the raw body, base64, as Shopify documents; value cross-checked
        // in shared/signature-vectors.md.
        const SECRET: &str = "test_secret_key";
        const BODY: &[u8] = br#"{"foo": "bar"}"#;
        const SIG: &str = "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g=";

        /// The headers besides the HMAC that `@shopify/shopify-api` requires.
        const OTHERS: [(&str, &str); 4] = [
            ("x-shopify-topic", "orders/create"),
            ("x-shopify-shop-domain", "example.myshopify.com"),
            ("x-shopify-api-version", "2025-10"),
            (
                "x-shopify-webhook-id",
                "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
            ),
        ];

        fn with_others<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
            let mut h = extra.to_vec();
            h.extend(OTHERS);
            h
        }

        #[test]
        fn documented_vector_verifies() {
            // Source: Shopify's documented scheme; vector from shared/signature-vectors.md.
            let h = with_others(&[("x-shopify-hmac-sha256", SIG)]);
            let v = check(&Scheme::Shopify, &h, BODY, SECRET);
            assert_eq!(v.status, Status::Verified, "{v:?}");
        }

        #[test]
        fn what_shopify_api_refuses_is_refused_with_its_reason() {
            let v = check(
                &Scheme::Shopify,
                &[("x-shopify-hmac-sha256", SIG)],
                BODY,
                SECRET,
            );
            assert_eq!(v.status, Status::Invalid, "{v:?}");
            assert!(
                reason(&v).contains("X-Shopify-Topic, X-Shopify-Shop-Domain, X-Shopify-API-Version and X-Shopify-Webhook-Id are missing"),
                "{v:?}"
            );
            let empty = super::super::super::support::encode(
                Encoding::Base64,
                &super::super::super::support::mac(Algorithm::Sha256, SECRET.as_bytes(), &[b""]),
            );
            let h = with_others(&[("x-shopify-hmac-sha256", &empty)]);
            let v = check(&Scheme::Shopify, &h, b"", SECRET);
            assert_eq!(v.status, Status::Invalid, "{v:?}");
            assert!(reason(&v).contains("the body is empty"), "{v:?}");
        }

        #[test]
        fn sign_reproduces_vector() {
            // Source: Shopify's documented scheme; vector from shared/signature-vectors.md.
            let out = sign(&Scheme::Shopify, &Secret::new(SECRET), BODY, "", 0).unwrap();
            assert_eq!(
                out,
                vec![("x-shopify-hmac-sha256".to_owned(), SIG.to_owned())]
            );
        }

        #[test]
        fn tampered_wrong_secret_missing_rotation() {
            let h = [("x-shopify-hmac-sha256", SIG)];
            assert_eq!(
                check(&Scheme::Shopify, &h, b"{}", SECRET).status,
                Status::Invalid
            );
            let v = check(&Scheme::Shopify, &h, BODY, "nope");
            assert!(reason(&v).contains("check the secret"), "{v:?}");
            let v = check(&Scheme::Shopify, &[], BODY, SECRET);
            assert_eq!(
                reason(&v),
                "missing header X-Shopify-Hmac-Sha256; the profile p expects X-Shopify-Hmac-Sha256"
            );
            let two = with_others(&[
                (
                    "x-shopify-hmac-sha256",
                    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                ),
                ("x-shopify-hmac-sha256", SIG),
            ]);
            let v = check(&Scheme::Shopify, &two, BODY, SECRET);
            assert_eq!(v.status, Status::Invalid, "{v:?}");
            assert!(reason(&v).contains("several values"), "{v:?}");
        }

        #[test]
        fn hex_signature_is_explained() {
            let hex_sig = hex::encode(super::super::super::support::base64_decode(SIG).unwrap());
            let v = check(
                &Scheme::Shopify,
                &[("x-shopify-hmac-sha256", &hex_sig)],
                BODY,
                SECRET,
            );
            assert_eq!(v.status, Status::Invalid);
            assert!(
                reason(&v).ends_with(
                    "the signature is hex HMAC-SHA256, and the profile expects base64 HMAC-SHA256"
                ),
                "{v:?}"
            );
        }

        #[test]
        fn diagnoses_pretty_printed_body() {
            let signed_body = b"{\n  \"foo\": \"bar\"\n}";
            let out = sign(&Scheme::Shopify, &Secret::new(SECRET), signed_body, "", 0).unwrap();
            let v = check(
                &Scheme::Shopify,
                &[("x-shopify-hmac-sha256", &out[0].1)],
                BODY,
                SECRET,
            );
            assert_eq!(v.status, Status::Invalid);
            assert!(
                reason(&v).contains("re-serialized (pretty-printed)"),
                "{v:?}"
            );
        }
    }

    mod avala {
        use super::*;

        // Source: seed 003's own verification snippet (hex HMAC-SHA256 of the raw body compared
        // with X-Avala-Signature), computed with Python's `hmac`; shared/signature-vectors.md.
        const SECRET: &str = "avala_example_secret";
        const BODY: &[u8] = br#"{"type":"task.completed","data":{"task_id":"tsk_1"}}"#;
        const SIG: &str = "f43ce5cf12a65852b76d14a13e4ce85c78e87b3880744078e3a56954b6e81450";

        #[test]
        fn seed_vector_verifies() {
            // Source: seed 003 snippet, computed with Python's `hmac`.
            let v = check(&Scheme::Avala, &[("x-avala-signature", SIG)], BODY, SECRET);
            assert_eq!(v.status, Status::Verified, "{v:?}");
            let upper = SIG.to_ascii_uppercase();
            let v = check(
                &Scheme::Avala,
                &[("x-avala-signature", &upper)],
                BODY,
                SECRET,
            );
            assert_eq!(v.status, Status::Invalid, "{v:?}");
            assert!(reason(&v).contains("upper case"), "{v:?}");
        }

        #[test]
        fn sign_reproduces_seed_vector() {
            // Source: seed 003 snippet, computed with Python's `hmac`.
            let out = sign(&Scheme::Avala, &Secret::new(SECRET), BODY, "", 0).unwrap();
            assert_eq!(out, vec![("x-avala-signature".to_owned(), SIG.to_owned())]);
        }

        #[test]
        fn wrong_secret_names_the_form_tried() {
            let v = check(&Scheme::Avala, &[("x-avala-signature", SIG)], BODY, "other");
            assert_eq!(
                reason(&v),
                "no signature matched (1 signature checked); check the secret (it is used as \
                 literal bytes, as given); tried hex HMAC-SHA256 of the raw body in \
                 X-Avala-Signature, no prefix"
            );
        }

        #[test]
        fn tampered_missing_rotation() {
            let h = [("x-avala-signature", SIG)];
            assert_eq!(
                check(&Scheme::Avala, &h, b"{}", SECRET).status,
                Status::Invalid
            );
            let v = check(&Scheme::Avala, &[], BODY, SECRET);
            assert_eq!(v.status, Status::Missing);
            let rotated = format!("{}, {SIG}", "ab".repeat(32));
            let v = check(
                &Scheme::Avala,
                &[("x-avala-signature", &rotated)],
                BODY,
                SECRET,
            );
            assert_eq!(v.status, Status::Invalid, "{v:?}");
            assert!(reason(&v).contains("compares the text exactly"), "{v:?}");
        }

        #[test]
        fn sha256_prefix_is_explained() {
            let v = check(
                &Scheme::Avala,
                &[("x-avala-signature", &format!("sha256={SIG}"))],
                BODY,
                SECRET,
            );
            assert_eq!(v.status, Status::Invalid);
            assert_eq!(
                reason(&v),
                "X-Avala-Signature: the signature is not valid hex; it starts with \"sha256=\", \
                 and the profile expects no prefix; without it the signature matches: use an \
                 hmac profile with prefix \"sha256=\""
            );
        }

        #[test]
        fn several_undecodable_values() {
            let v = check(
                &Scheme::Avala,
                &[("x-avala-signature", "t=123,v1=abc")],
                BODY,
                SECRET,
            );
            assert_eq!(
                reason(&v),
                "X-Avala-Signature: none of the 2 signatures is valid hex; it starts with \"t=\", \
                 and the profile expects no prefix"
            );
        }

        #[test]
        fn trailing_newline_in_secret_is_diagnosed() {
            let v = check(
                &Scheme::Avala,
                &[("x-avala-signature", SIG)],
                BODY,
                "avala_example_secret\n",
            );
            assert!(reason(&v).contains("whitespace around the secret"), "{v:?}");
        }
    }

    mod generic {
        use super::*;

        fn scheme(algorithm: Algorithm, encoding: Encoding, prefix: Option<&str>) -> Scheme {
            Scheme::Hmac {
                header: "X-Signature".into(),
                algorithm,
                encoding,
                prefix: prefix.map(str::to_owned),
            }
        }

        #[test]
        fn matches_the_github_vector_when_configured_like_github() {
            // Source: GitHub docs, "Validating webhook deliveries" (same bytes, generic scheme).
            let s = scheme(Algorithm::Sha256, Encoding::Hex, Some("sha256="));
            let v = check(
                &s,
                &[(
                    "x-signature",
                    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
                )],
                b"Hello, World!",
                "It's a Secret to Everybody",
            );
            assert_eq!(v.status, Status::Verified, "{v:?}");
        }

        #[test]
        fn every_algorithm_and_encoding_round_trips_and_rejects_tampering() {
            for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
                for encoding in [Encoding::Hex, Encoding::Base64] {
                    for prefix in [None, Some("v1=")] {
                        let s = scheme(algorithm, encoding, prefix);
                        let out = sign(&s, &Secret::new("k"), b"body", "", 0).unwrap();
                        assert_eq!(out[0].0, "x-signature");
                        let h = [("x-signature", out[0].1.as_str())];
                        assert_eq!(check(&s, &h, b"body", "k").status, Status::Verified);
                        assert_eq!(check(&s, &h, b"bodY", "k").status, Status::Invalid);
                        assert_eq!(check(&s, &h, b"body", "K").status, Status::Invalid);
                        assert_eq!(check(&s, &[], b"body", "k").status, Status::Missing);
                        let rotated = format!("{}00 {}", prefix.unwrap_or(""), out[0].1);
                        let h = [("x-signature", rotated.as_str())];
                        assert_eq!(check(&s, &h, b"body", "k").status, Status::Verified);
                    }
                }
            }
        }

        #[test]
        fn wrong_algorithm_is_diagnosed() {
            let sha1 = scheme(Algorithm::Sha1, Encoding::Hex, None);
            let out = sign(&sha1, &Secret::new("k"), b"body", "", 0).unwrap();
            let sha256 = scheme(Algorithm::Sha256, Encoding::Hex, None);
            let v = check(&sha256, &[("x-signature", &out[0].1)], b"body", "k");
            assert_eq!(v.status, Status::Invalid);
            assert!(
                reason(&v).ends_with(
                    "the signature is hex HMAC-SHA1, and the profile expects hex HMAC-SHA256"
                ),
                "{v:?}"
            );
        }

        #[test]
        fn prefix_with_separators_is_taken_whole() {
            let s = scheme(Algorithm::Sha256, Encoding::Hex, Some("hmac sha256, "));
            let out = sign(&s, &Secret::new("k"), b"body", "", 0).unwrap();
            let h = [("x-signature", out[0].1.as_str())];
            assert_eq!(check(&s, &h, b"body", "k").status, Status::Verified);
        }

        #[test]
        fn absent_prefix_is_left_out_of_serialized_profiles() {
            let s = scheme(Algorithm::Sha1, Encoding::Base64, None);
            assert_eq!(
                serde_json::to_value(&s).unwrap(),
                serde_json::json!({"kind": "hmac", "header": "X-Signature", "algorithm": "sha1", "encoding": "base64"})
            );
        }

        #[test]
        fn sign_rejects_bad_header_or_prefix() {
            let s = Scheme::Hmac {
                header: "bad header".into(),
                algorithm: Algorithm::Sha256,
                encoding: Encoding::Hex,
                prefix: None,
            };
            assert!(sign(&s, &Secret::new("k"), b"", "", 0).is_err());
            let s = scheme(Algorithm::Sha256, Encoding::Hex, Some("x\n"));
            assert!(sign(&s, &Secret::new("k"), b"", "", 0).is_err());
        }
    }
}
