//! Cross-scheme tests: the public types, detection, round trips and never-panic properties.
//! Each scheme's vectors and failure cases live in its own file.

use proptest::prelude::*;

use super::{
    detect, sign, unchecked, verify, Algorithm, Encoding, Scheme, Secret, SignError, Status,
    Verdict, SIGNATURE_HEADERS,
};

/// Headers as the capture layer builds them: lower-cased names, raw bytes.
pub(crate) fn headers(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.as_bytes().to_vec()))
        .collect()
}

/// The reason of a failed verdict; panics (in tests only) when there is none.
pub(crate) fn reason(v: &Verdict) -> &str {
    v.reason.as_deref().expect("a failed verdict has a reason")
}

fn all_schemes() -> Vec<Scheme> {
    vec![
        Scheme::StandardWebhooks {
            header_prefix: "webhook".into(),
            tolerance_secs: 300,
        },
        Scheme::StandardWebhooks {
            header_prefix: "svix".into(),
            tolerance_secs: 300,
        },
        Scheme::Stripe {
            tolerance_secs: 300,
        },
        Scheme::Github,
        Scheme::Shopify,
        Scheme::Slack {
            tolerance_secs: 300,
        },
        Scheme::Avala,
        Scheme::StaticToken {
            header: "x-webhook-infermedica-token".into(),
        },
        Scheme::Hmac {
            header: "x-signature".into(),
            algorithm: Algorithm::Sha512,
            encoding: Encoding::Base64,
            prefix: Some("sha512=".into()),
        },
        Scheme::Hmac {
            header: "X-Sig".into(),
            algorithm: Algorithm::Sha1,
            encoding: Encoding::Hex,
            prefix: None,
        },
    ]
}

fn to_headers(pairs: Vec<(String, String)>) -> Vec<(String, Vec<u8>)> {
    pairs
        .into_iter()
        .map(|(n, v)| (n, v.into_bytes()))
        .collect()
}

#[test]
fn status_names_round_trip() {
    for status in [
        Status::Verified,
        Status::Invalid,
        Status::Expired,
        Status::Missing,
        Status::Unchecked,
    ] {
        assert_eq!(Status::parse(status.as_str()), Some(status));
        assert_eq!(
            serde_json::to_string(&status).unwrap(),
            format!("\"{}\"", status.as_str())
        );
    }
    assert_eq!(Status::parse("Verified"), None);
    assert_eq!(Status::parse(""), None);
}

#[test]
fn verdict_json_shape() {
    let v = Verdict {
        status: Status::Missing,
        profile: Some("avara".into()),
        reason: Some("missing header webhook-signature".into()),
    };
    assert_eq!(
        serde_json::to_value(&v).unwrap(),
        serde_json::json!({"status": "missing", "profile": "avara", "reason": "missing header webhook-signature"})
    );
}

#[test]
fn scheme_serde_is_tagged_kebab_case_with_defaults() {
    let s: Scheme = serde_json::from_str(r#"{"kind": "standard-webhooks"}"#).unwrap();
    assert_eq!(
        s,
        Scheme::StandardWebhooks {
            header_prefix: "webhook".into(),
            tolerance_secs: 300
        }
    );
    let s: Scheme = serde_json::from_str(
        r#"{"kind": "standard-webhooks", "header_prefix": "svix", "tolerance_secs": 60}"#,
    )
    .unwrap();
    assert_eq!(
        s,
        Scheme::StandardWebhooks {
            header_prefix: "svix".into(),
            tolerance_secs: 60
        }
    );
    let s: Scheme = serde_json::from_str(r#"{"kind": "static-token", "header": "x-t"}"#).unwrap();
    assert_eq!(
        s,
        Scheme::StaticToken {
            header: "x-t".into()
        }
    );
    let s: Scheme = serde_json::from_str(
        r#"{"kind": "hmac", "header": "x-s", "algorithm": "sha512", "encoding": "base64"}"#,
    )
    .unwrap();
    assert_eq!(
        s,
        Scheme::Hmac {
            header: "x-s".into(),
            algorithm: Algorithm::Sha512,
            encoding: Encoding::Base64,
            prefix: None
        }
    );
    assert_eq!(
        serde_json::to_value(Scheme::Github).unwrap(),
        serde_json::json!({"kind": "github"})
    );
    assert_eq!(
        serde_json::to_value(Scheme::Stripe {
            tolerance_secs: 300
        })
        .unwrap(),
        serde_json::json!({"kind": "stripe", "tolerance_secs": 300})
    );
    for scheme in all_schemes() {
        let text = serde_json::to_string(&scheme).unwrap();
        assert_eq!(serde_json::from_str::<Scheme>(&text).unwrap(), scheme);
    }
}

#[test]
fn detect_names_each_scheme_by_its_header() {
    let cases = [
        ("webhook-signature", "standard-webhooks"),
        ("svix-signature", "svix"),
        ("stripe-signature", "stripe"),
        ("x-hub-signature-256", "github"),
        ("x-hub-signature", "github"),
        ("x-shopify-hmac-sha256", "shopify"),
        ("x-slack-signature", "slack"),
        ("x-avala-signature", "avala"),
        ("x-webhook-infermedica-token", "infermedica"),
    ];
    for (header, name) in cases {
        let h = headers(&[("content-type", "application/json"), (header, "x")]);
        assert_eq!(detect(&h), Some(name), "{header}");
    }
    assert_eq!(detect(&headers(&[("content-type", "text/plain")])), None);
    assert_eq!(detect(&[]), None);
}

#[test]
fn unchecked_says_whether_the_request_looks_signed() {
    let h = headers(&[
        ("webhook-id", "msg_1"),
        ("webhook-timestamp", "1"),
        ("webhook-signature", "v1,x"),
    ]);
    assert_eq!(
        unchecked(&h),
        Verdict {
            status: Status::Unchecked,
            profile: None,
            reason: Some("signed with standard-webhooks; no secret configured".into()),
        }
    );
    assert_eq!(
        unchecked(&headers(&[("host", "localhost")]))
            .reason
            .as_deref(),
        Some("no signature headers; no profile configured")
    );
}

/// Headers some providers' verifiers require besides the signature (Shopify's topic, domain,
/// API version and webhook id), as `trigger` sends them from the profile's `send_headers`.
fn provider_headers() -> Vec<(String, Vec<u8>)> {
    headers(&[
        ("x-shopify-topic", "orders/create"),
        ("x-shopify-shop-domain", "example.myshopify.com"),
        ("x-shopify-api-version", "2025-10"),
        (
            "x-shopify-webhook-id",
            "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        ),
    ])
}

#[test]
fn sign_round_trips_through_verify_for_every_scheme() {
    let secret = Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    let body = br#"{"type":"report.delivered","data":{"id":1}}"#;
    let now = 1_700_000_000;
    for scheme in all_schemes() {
        let signed = sign(&scheme, &secret, body, "msg_1", now).unwrap();
        let mut h = headers(&[("content-type", "application/json")]);
        h.extend(to_headers(signed));
        h.extend(provider_headers());
        let v = verify("p", &scheme, &h, body, &secret, now + 5);
        assert_eq!(v.status, Status::Verified, "{scheme:?}: {v:?}");
        let v = verify("p", &scheme, &h, b"{}", &secret, now + 5);
        if !matches!(scheme, Scheme::StaticToken { .. }) {
            assert_eq!(v.status, Status::Invalid, "{scheme:?}: {v:?}");
        }
        let v = verify("p", &scheme, &h, body, &Secret::new("whsec_b3RoZXI="), now);
        assert_eq!(v.status, Status::Invalid, "{scheme:?}: {v:?}");
    }
}

#[test]
fn schemes_without_a_timestamp_ignore_it_in_sign() {
    let secret = Secret::new("k");
    for scheme in [Scheme::Github, Scheme::Shopify, Scheme::Avala] {
        assert_eq!(
            sign(&scheme, &secret, b"b", "", -5).unwrap(),
            sign(&scheme, &secret, b"b", "other", 99).unwrap()
        );
    }
    assert_eq!(
        sign(&Scheme::Slack { tolerance_secs: 1 }, &secret, b"b", "", -5),
        Err(SignError::NegativeTimestamp(-5))
    );
}

#[test]
fn reasons_never_contain_the_secret() {
    let secret_text = "whsec_c2VjcmV0LXRoYXQtbXVzdC1ub3QtbGVhaw==";
    let secret = Secret::new(secret_text);
    let noisy = headers(&[
        ("webhook-id", "m"),
        ("webhook-timestamp", "1"),
        ("webhook-signature", "v1,AAAA v2,zz"),
        ("stripe-signature", "t=1,v1=00"),
        ("x-hub-signature-256", "sha256=00"),
        ("x-slack-signature", "v0=00"),
        ("x-slack-request-timestamp", "1"),
        ("x-avala-signature", "00"),
        ("x-shopify-hmac-sha256", "AA=="),
        ("x-webhook-infermedica-token", "nope"),
    ]);
    for scheme in all_schemes() {
        for h in [&noisy[..], &[]] {
            let v = verify("p", &scheme, h, b"{\"a\": 1}", &secret, 1_000_000);
            let r = reason(&v);
            assert!(!r.contains(secret_text), "{r}");
            assert!(!r.contains("c2VjcmV0LXRoYXQtbXVzdC1ub3QtbGVhaw"), "{r}");
            assert!(!format!("{v:?}").contains("c2VjcmV0"));
        }
    }
}

#[test]
fn reasons_are_given_for_every_failed_status() {
    let secret = Secret::new("s");
    for scheme in all_schemes() {
        let v = verify("p", &scheme, &[], b"", &secret, 0);
        assert_eq!(v.status, Status::Missing);
        assert!(v.reason.is_some());
        assert_eq!(v.profile.as_deref(), Some("p"));
    }
}

#[test]
fn empty_secret_is_said_in_the_reason() {
    let h = headers(&[("x-avala-signature", &"00".repeat(32))]);
    let v = verify("avala", &Scheme::Avala, &h, b"{}", &Secret::new(""), 0);
    assert!(
        reason(&v).contains("the configured secret is empty"),
        "{v:?}"
    );
}

fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..80),
        "[tv01=,. a-fA-F0-9+/_-]{0,90}".prop_map(String::into_bytes),
        "(t=-?[0-9]{0,22}|v1=[0-9a-f]{0,66}|v0=[0-9a-f]{0,8}|sha256=[0-9a-f]{0,64}|sha1=[0-9a-f]{0,40}|v1,[A-Za-z0-9+/=]{0,46}|[0-9]{0,25}|[ ,=]|Bearer )*"
            .prop_map(String::into_bytes),
    ]
}

/// The signature headers, and the generic HMAC profile's `X-Sig` from [`all_schemes`].
fn header_names() -> Vec<&'static str> {
    let mut names = SIGNATURE_HEADERS.to_vec();
    names.push("x-sig");
    names
}

fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(header_names()).prop_map(str::to_owned),
        1 => "[A-Za-z-]{0,24}",
        1 => any::<String>(),
    ]
}

fn arbitrary_headers() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    proptest::collection::vec((header_name(), header_value()), 0..10)
}

fn arbitrary_scheme() -> impl Strategy<Value = Scheme> {
    let tolerance = prop_oneof![Just(300u64), any::<u64>()];
    prop_oneof![
        (
            prop_oneof![
                Just("webhook".to_owned()),
                Just("svix".to_owned()),
                any::<String>()
            ],
            tolerance.clone()
        )
            .prop_map(|(header_prefix, tolerance_secs)| Scheme::StandardWebhooks {
                header_prefix,
                tolerance_secs
            }),
        tolerance
            .clone()
            .prop_map(|tolerance_secs| Scheme::Stripe { tolerance_secs }),
        Just(Scheme::Github),
        Just(Scheme::Shopify),
        tolerance.prop_map(|tolerance_secs| Scheme::Slack { tolerance_secs }),
        Just(Scheme::Avala),
        header_name().prop_map(|header| Scheme::StaticToken { header }),
        (
            header_name(),
            proptest::sample::select(vec![Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512]),
            proptest::sample::select(vec![Encoding::Hex, Encoding::Base64]),
            proptest::option::of(any::<String>()),
        )
            .prop_map(|(header, algorithm, encoding, prefix)| Scheme::Hmac {
                header,
                algorithm,
                encoding,
                prefix
            }),
    ]
}

fn arbitrary_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        "[{}\\[\\]\":, a-z0-9]{0,120}".prop_map(String::into_bytes),
    ]
}

fn arbitrary_secret() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "whsec_[A-Za-z0-9+/=]{0,44}",
        "[ \n]?[a-z0-9]{0,20}[ \n]?"
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn verify_never_panics_and_always_explains(
        scheme in arbitrary_scheme(),
        h in arbitrary_headers(),
        body in arbitrary_body(),
        secret in arbitrary_secret(),
        now in any::<i64>(),
    ) {
        let v = verify("p", &scheme, &h, &body, &Secret::new(secret), now);
        prop_assert_eq!(v.reason.is_none(), v.status == Status::Verified);
        prop_assert!(v.status != Status::Unchecked);
        prop_assert_eq!(v.profile.as_deref(), Some("p"));
    }

    #[test]
    fn every_fixed_scheme_never_panics(
        h in arbitrary_headers(),
        body in arbitrary_body(),
        secret in arbitrary_secret(),
        now in any::<i64>(),
    ) {
        for scheme in all_schemes() {
            let v = verify("p", &scheme, &h, &body, &Secret::new(secret.clone()), now);
            prop_assert_eq!(v.reason.is_none(), v.status == Status::Verified);
        }
    }

    #[test]
    fn detect_and_unchecked_never_panic(h in arbitrary_headers()) {
        let detected = detect(&h);
        let v = unchecked(&h);
        prop_assert_eq!(v.status, Status::Unchecked);
        prop_assert!(v.reason.is_some());
        prop_assert_eq!(detected.is_some(), v.reason.unwrap().starts_with("signed with"));
    }

    #[test]
    fn sign_then_verify_round_trips(
        scheme in arbitrary_scheme(),
        body in arbitrary_body(),
        secret in "[ -~]{1,40}",
        msg_id in "[a-zA-Z0-9_]{1,30}",
        timestamp in 0i64..4_000_000_000,
    ) {
        let secret = Secret::new(secret);
        let never_empty = matches!(scheme, Scheme::Shopify | Scheme::Github);
        if let (Ok(signed), false) = (
            sign(&scheme, &secret, &body, &msg_id, timestamp),
            never_empty && body.is_empty(),
        ) {
            let mut h = to_headers(signed);
            h.extend(provider_headers());
            let v = verify("p", &scheme, &h, &body, &secret, timestamp);
            prop_assert_eq!(v.status, Status::Verified, "{:?} {:?}", scheme, v);
        }
    }

    #[test]
    fn secrets_stay_out_of_reasons(
        scheme in arbitrary_scheme(),
        h in arbitrary_headers(),
        body in arbitrary_body(),
        secret in "[A-Za-z0-9]{24}",
        now in any::<i64>(),
    ) {
        let v = verify("p", &scheme, &h, &body, &Secret::new(secret.clone()), now);
        let debug = format!("{:?}", v);
        prop_assert!(!debug.contains(&secret));
    }
}
