//! Telling which scheme a request looks signed with, and why a signature did not match.

use super::support::{
    self, algorithm_name, base64_decode, count, encoding_name, join_and, mac_matches,
};
use super::{Algorithm, Encoding, Headers, Request, Status, Verdict};

/// Signature headers that identify a scheme: (detected name, lower-case header, display name).
/// Order decides [`detect`] when several are present.
const SIGNALS: &[(&str, &str, &str)] = &[
    (
        "standard-webhooks",
        "webhook-signature",
        "webhook-signature",
    ),
    ("svix", "svix-signature", "svix-signature"),
    ("stripe", "stripe-signature", "Stripe-Signature"),
    ("github", "x-hub-signature-256", "X-Hub-Signature-256"),
    ("github", "x-hub-signature", "X-Hub-Signature"),
    ("shopify", "x-shopify-hmac-sha256", "X-Shopify-Hmac-Sha256"),
    ("slack", "x-slack-signature", "X-Slack-Signature"),
    ("avala", "x-avala-signature", "X-Avala-Signature"),
    (
        "infermedica",
        "x-webhook-infermedica-token",
        "x-webhook-infermedica-token",
    ),
];

/// Which scheme the headers look signed with, judged by which signature header is present:
/// `standard-webhooks`, `svix`, `stripe`, `github`, `shopify`, `slack`, `avala` or
/// `infermedica`; `None` when no known signature header is there.
pub(crate) fn detect(headers: &Headers) -> Option<&'static str> {
    SIGNALS
        .iter()
        .find(|(_, header, _)| support::has(headers, header))
        .map(|(name, _, _)| *name)
}

/// The verdict to record when no profile or secret is configured: `Unchecked`, saying whether
/// the request looks signed.
pub fn unchecked(headers: &Headers) -> Verdict {
    let reason = match detect(headers) {
        Some(name) => format!("signed with {name}; no secret configured"),
        None => "no signature headers; no profile configured".to_owned(),
    };
    Verdict {
        status: Status::Unchecked,
        profile: None,
        reason: Some(reason),
    }
}

/// The verdict on a request given a secret but no profile, whose headers name no known scheme.
pub(crate) fn no_scheme_found() -> Verdict {
    Verdict {
        status: Status::Missing,
        profile: None,
        reason: Some(
            "no signature headers of any known scheme; with a secret but no --profile the scheme is detected from the headers"
                .into(),
        ),
    }
}

/// The verdict on a request for `profile` when no secret is configured for it.
pub(crate) fn no_secret_for(profile: &str) -> Verdict {
    Verdict {
        status: Status::Unchecked,
        profile: Some(profile.to_owned()),
        reason: Some(format!(
            "profile {profile} has no secret configured: pass --secret (a literal, env:VAR or file:PATH)"
        )),
    }
}

/// "this request carries Stripe-Signature; the profile is github" when the request has
/// signature headers of a scheme other than the one checked (whose headers are `own`).
pub(crate) fn wrong_profile_hint(profile: &str, headers: &Headers, own: &[&str]) -> Option<String> {
    let foreign: Vec<&str> = SIGNALS
        .iter()
        .filter(|(_, header, _)| !own.iter().any(|o| o.eq_ignore_ascii_case(header)))
        .filter(|(_, header, _)| support::has(headers, header))
        .map(|(_, _, display)| *display)
        .collect();
    if foreign.is_empty() {
        None
    } else {
        Some(format!(
            "this request carries {}; the profile is {profile}",
            join_and(&foreign)
        ))
    }
}

/// A `Missing` verdict, with a wrong-profile hint when one can be told.
pub(crate) fn missing(
    req: &Request<'_>,
    missing: &[&str],
    expected: &[&str],
    own: &[&str],
) -> Verdict {
    let mut reason = support::missing_reason(req.profile, missing, expected);
    if let Some(hint) = wrong_profile_hint(req.profile, req.headers, own) {
        reason.push_str("; ");
        reason.push_str(&hint);
    }
    Verdict::failed(Status::Missing, req.profile, reason)
}

/// The presented signatures of one request and how the scheme computes its own.
pub(crate) struct MacCheck<'a> {
    pub algorithm: Algorithm,
    pub encoding: Encoding,
    pub key: Vec<u8>,
    /// Signed content that precedes the body, such as `{id}.{timestamp}.`.
    pub content_prefix: Vec<u8>,
    /// Presented signature texts, scheme prefixes removed.
    pub presented: Vec<&'a str>,
    /// Those of `presented` that decode with `encoding`.
    pub signatures: Vec<Vec<u8>>,
}

impl<'a> MacCheck<'a> {
    pub(crate) fn new(
        algorithm: Algorithm,
        encoding: Encoding,
        key: Vec<u8>,
        content_prefix: Vec<u8>,
        presented: Vec<&'a str>,
    ) -> Self {
        let signatures = presented
            .iter()
            .filter_map(|p| support::decode(encoding, p))
            .collect();
        MacCheck {
            algorithm,
            encoding,
            key,
            content_prefix,
            presented,
            signatures,
        }
    }

    /// How many presented signatures could not be decoded.
    pub(crate) fn undecodable(&self) -> usize {
        self.presented.len() - self.signatures.len()
    }

    pub(crate) fn matches(&self, body: &[u8]) -> bool {
        self.matches_with(&self.key, self.algorithm, &self.signatures, body)
    }

    fn matches_with(
        &self,
        key: &[u8],
        algorithm: Algorithm,
        signatures: &[Vec<u8>],
        body: &[u8],
    ) -> bool {
        let parts: [&[u8]; 2] = [&self.content_prefix, body];
        signatures
            .iter()
            .any(|sig| mac_matches(algorithm, key, &parts, sig))
    }

    /// Whether a presented signature is exactly the canonical text of the expected MAC
    /// (lower-case hex, padded base64), as verifiers that compare strings require.
    pub(crate) fn matches_exactly(&self, body: &[u8]) -> bool {
        let mac = support::mac(self.algorithm, &self.key, &[&self.content_prefix, body]);
        let expected = support::encode(self.encoding, &mac);
        self.presented
            .iter()
            .any(|p| subtle::ConstantTimeEq::ct_eq(p.as_bytes(), expected.as_bytes()).into())
    }

    /// For a provider whose verifier compares hex text exactly (`hmac.compare_digest` of two
    /// hexdigests): why a signature that matches only as decoded bytes is refused.
    pub(crate) fn inexact_hex_reason(
        &self,
        body: &[u8],
        display: &str,
        verifier: &str,
    ) -> Option<String> {
        (self.matches(body) && !self.matches_exactly(body)).then(|| {
            format!(
                "{display} matches the body only when its hex is read case-insensitively; \
                 {verifier} compares the lower-case hex text exactly and would refuse it"
            )
        })
    }

    /// The reason a header full of undecodable signatures is unparseable.
    pub(crate) fn undecodable_reason(&self, display: &str) -> String {
        let encoding = encoding_name(self.encoding);
        match self.presented.len() {
            1 => format!("{display}: the signature is not valid {encoding}"),
            n => format!("{display}: none of the {n} signatures is valid {encoding}"),
        }
    }
}

/// Everything [`explain`] needs to say why no signature matched.
pub(crate) struct Mismatch<'r, 'a> {
    pub req: &'r Request<'r>,
    pub check: &'r MacCheck<'a>,
    /// Lower-case names of the headers the profile's scheme reads.
    pub own_headers: &'r [&'r str],
    /// Other ways of turning the secret into a key, each with what a match would mean.
    pub alternative_keys: Vec<(Vec<u8>, String)>,
    /// How the profile uses the secret, completing "check the secret (it is used as …)".
    pub key_use: &'r str,
    /// The signed content and encoding tried, for schemes whose form varies between senders.
    pub form: Option<String>,
}

/// The verdict of a timestamped scheme once its signatures are decoded: `verified` (or `expired`
/// when the timestamp is outside the tolerance) if one matches, else `invalid` with the mismatch
/// explained and any expiry noted too.
/// The mismatch is only built (alternative keys and all) when nothing matched.
pub(crate) fn timestamped_verdict<'r, 'a>(
    req: &'r Request<'r>,
    check: &'r MacCheck<'a>,
    expiry: Option<String>,
    mismatch: impl FnOnce() -> Mismatch<'r, 'a>,
) -> Verdict {
    if check.matches(req.body) {
        return match expiry {
            Some(reason) => Verdict::failed(Status::Expired, req.profile, reason),
            None => Verdict::verified(req.profile),
        };
    }
    let mut reason = explain(&mismatch());
    if let Some(expiry) = expiry {
        reason.push_str("; also, ");
        reason.push_str(&expiry);
    }
    Verdict::failed(Status::Invalid, req.profile, reason)
}

/// Why no presented signature matched, with the first diagnosis that can be told: the secret
/// used the wrong way, another algorithm or encoding, a re-serialized body, another scheme's
/// headers; otherwise advice to check the secret.
pub(crate) fn explain(m: &Mismatch<'_, '_>) -> String {
    let check = m.check;
    let mut reason = format!(
        "no signature matched ({} checked)",
        count(check.signatures.len(), "signature", "signatures")
    );
    let skipped = check.undecodable();
    if skipped > 0 {
        reason.push_str(&format!(
            "; {} not valid {}",
            count(skipped, "other was", "others were"),
            encoding_name(check.encoding)
        ));
    }
    reason.push_str("; ");
    reason.push_str(&diagnosis(m));
    reason
}

fn diagnosis(m: &Mismatch<'_, '_>) -> String {
    let check = m.check;
    let body = m.req.body;
    for (key, meaning) in &m.alternative_keys {
        if *key != check.key && check.matches_with(key, check.algorithm, &check.signatures, body) {
            return meaning.clone();
        }
    }
    if let Some(found) = other_form(check, body) {
        return found;
    }
    if let Some(found) = reserialized(check, body) {
        return found;
    }
    if let Some(hint) = wrong_profile_hint(m.req.profile, m.req.headers, m.own_headers) {
        return hint;
    }
    let mut advice = if m.req.secret.expose().is_empty() {
        "the configured secret is empty; check the secret".to_owned()
    } else {
        format!("check the secret (it is used as {})", m.key_use)
    };
    if let Some(form) = &m.form {
        advice.push_str("; tried ");
        advice.push_str(form);
    }
    advice
}

/// A match under another algorithm or encoding than the profile's, described.
pub(crate) fn other_form(check: &MacCheck<'_>, body: &[u8]) -> Option<String> {
    for encoding in [Encoding::Hex, Encoding::Base64] {
        let signatures: Vec<Vec<u8>> = if encoding == check.encoding {
            check.signatures.clone()
        } else {
            check
                .presented
                .iter()
                .filter_map(|p| support::decode(encoding, p))
                .collect()
        };
        for algorithm in [Algorithm::Sha256, Algorithm::Sha1, Algorithm::Sha512] {
            if (encoding, algorithm) == (check.encoding, check.algorithm) {
                continue;
            }
            if check.matches_with(&check.key, algorithm, &signatures, body) {
                return Some(format!(
                    "the signature is {} {}, and the profile expects {} {}",
                    encoding_name(encoding),
                    algorithm_name(algorithm),
                    encoding_name(check.encoding),
                    algorithm_name(check.algorithm)
                ));
            }
        }
    }
    None
}

fn reserialized(check: &MacCheck<'_>, body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let forms = [
        ("compact", serde_json::to_vec(&value).ok()),
        ("pretty-printed", serde_json::to_vec_pretty(&value).ok()),
    ];
    forms.into_iter().find_map(|(style, bytes)| {
        let bytes = bytes?;
        (bytes != body && check.matches(&bytes)).then(|| {
            format!(
                "the signature matches this JSON body re-serialized ({style}): the body was \
                 re-serialized between signing and receipt; sign and send the exact bytes"
            )
        })
    })
}

/// Alternative keys for schemes that use the secret's bytes as given: a trimmed secret, and a
/// `whsec_` secret base64-decoded the Standard Webhooks way.
pub(crate) fn literal_key_alternatives(secret: &str) -> Vec<(Vec<u8>, String)> {
    let mut out = Vec::new();
    if secret.trim() != secret {
        out.push((
            secret.trim().as_bytes().to_vec(),
            "the signature matches once whitespace around the secret is removed (a trailing \
             newline from a file?)"
                .to_owned(),
        ));
    }
    if let Some(decoded) = secret.strip_prefix("whsec_").and_then(base64_decode) {
        out.push((
            decoded,
            "the signature matches the secret base64-decoded after whsec_ (the Standard \
             Webhooks way); this profile uses the secret as given, as literal bytes"
                .to_owned(),
        ));
    }
    out
}
