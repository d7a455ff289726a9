//! A token sent verbatim in a header (Infermedica's `x-webhook-infermedica-token`).

use subtle::ConstantTimeEq;

use super::diagnose;
use super::support;
use super::{Request, Secret, SignError, Status, Verdict};

pub(crate) fn verify(req: &Request<'_>, header: &str) -> Verdict {
    if !support::has(req.headers, header) {
        return diagnose::missing(req, &[header], &[header], &[header]);
    }
    let token = req.secret.bytes();
    if token.is_empty() {
        return Verdict::failed(
            Status::Invalid,
            req.profile,
            "the configured token is empty; set the token the webhook was registered with",
        );
    }
    let presented: Vec<&[u8]> = support::values(req.headers, header).collect();
    let matched = presented
        .iter()
        .fold(0u8, |acc, value| acc | value.ct_eq(token).unwrap_u8());
    if matched == 1 {
        return Verdict::verified(req.profile);
    }
    let trimmed = presented
        .iter()
        .any(|value| bool::from(value.trim_ascii().ct_eq(token.trim_ascii())));
    let bearer = presented.iter().any(|value| {
        value.len() > 7
            && value[..7].eq_ignore_ascii_case(b"bearer ")
            && bool::from(value[7..].ct_eq(token))
    });
    let counted = if presented.len() == 1 {
        String::new()
    } else {
        format!(" ({} values checked)", presented.len())
    };
    let reason = if bearer {
        format!(
            "{header} matches the token once its \"Bearer \" prefix is removed; the profile \
             expects the token alone"
        )
    } else if trimmed {
        format!(
            "{header} matches the token once surrounding whitespace is removed (a trailing \
             newline in the configured token?)"
        )
    } else if let Some(hint) = diagnose::wrong_profile_hint(req.profile, req.headers, &[header]) {
        format!("{header} does not match the configured token{counted}; {hint}")
    } else {
        format!(
            "{header} does not match the configured token{counted}; check the token (compared \
             byte for byte, case-sensitive)"
        )
    };
    Verdict::failed(Status::Invalid, req.profile, reason)
}

pub(crate) fn sign(header: &str, secret: &Secret) -> Result<Vec<(String, String)>, SignError> {
    let name = support::header_name(header)?;
    let value = support::header_value(&name, secret.expose().to_owned())?;
    Ok(vec![(name, value)])
}

#[cfg(test)]
mod tests {
    use super::super::tests::{headers, reason};
    use super::super::{sign, verify, Scheme, Secret, SignError, Status, Verdict};

    // Source: seed 002 (Infermedica): the registered `authorization_token` is sent verbatim in
    // `x-webhook-infermedica-token`; the token below is the seed's own example value.
    const TOKEN: &str = "zGORr7q1I4egIr0c0eKXD7CMpIcjFooJ";
    const HEADER: &str = "x-webhook-infermedica-token";

    fn scheme() -> Scheme {
        Scheme::StaticToken {
            header: HEADER.into(),
        }
    }

    fn check(h: &[(&str, &str)], token: &str) -> Verdict {
        verify(
            "infermedica",
            &scheme(),
            &headers(h),
            b"{}",
            &Secret::new(token),
            0,
        )
    }

    #[test]
    fn seed_token_verifies() {
        // Source: seed 002, example `authorization_token`.
        assert_eq!(check(&[(HEADER, TOKEN)], TOKEN).status, Status::Verified);
    }

    #[test]
    fn sign_sends_the_token() {
        // Source: seed 002: the token is sent verbatim in the header.
        let out = sign(&scheme(), &Secret::new(TOKEN), b"anything", "", 0).unwrap();
        assert_eq!(out, vec![(HEADER.to_owned(), TOKEN.to_owned())]);
        let bad = sign(&scheme(), &Secret::new("a\nb"), b"", "", 0);
        assert_eq!(bad, Err(SignError::InvalidHeaderValue(HEADER.to_owned())));
        assert!(!format!("{}", bad.unwrap_err()).contains("a\nb"));
    }

    #[test]
    fn wrong_token_body_does_not_matter() {
        let v = check(&[(HEADER, "zGORr7q1I4egIr0c0eKXD7CMpIcjFooK")], TOKEN);
        assert_eq!(v.status, Status::Invalid);
        assert_eq!(
            reason(&v),
            "x-webhook-infermedica-token does not match the configured token; check the token \
             (compared byte for byte, case-sensitive)"
        );
        assert!(!reason(&v).contains(TOKEN));
        let v = verify(
            "i",
            &scheme(),
            &headers(&[(HEADER, TOKEN)]),
            b"tampered",
            &Secret::new(TOKEN),
            0,
        );
        assert_eq!(
            v.status,
            Status::Verified,
            "the token does not sign the body"
        );
    }

    #[test]
    fn missing_header() {
        let v = check(&[], TOKEN);
        assert_eq!(v.status, Status::Missing);
        assert_eq!(
            reason(&v),
            "missing header x-webhook-infermedica-token; the profile infermedica expects \
             x-webhook-infermedica-token"
        );
    }

    #[test]
    fn rotation_any_value_matches() {
        let v = check(&[(HEADER, "old-token"), (HEADER, TOKEN)], TOKEN);
        assert_eq!(v.status, Status::Verified);
        let v = check(&[(HEADER, "old-token"), (HEADER, "older")], TOKEN);
        assert!(reason(&v).contains("(2 values checked)"));
    }

    #[test]
    fn near_misses_are_explained() {
        let v = check(&[(HEADER, &format!("Bearer {TOKEN}"))], TOKEN);
        assert!(reason(&v).contains("\"Bearer \" prefix"), "{v:?}");
        let v = check(&[(HEADER, TOKEN)], &format!("{TOKEN}\n"));
        assert!(reason(&v).contains("surrounding whitespace"), "{v:?}");
        let v = check(&[(HEADER, TOKEN)], "");
        assert_eq!(v.status, Status::Invalid);
        assert!(reason(&v).starts_with("the configured token is empty"));
    }

    #[test]
    fn header_name_is_case_insensitive() {
        let s = Scheme::StaticToken {
            header: "X-Webhook-Infermedica-Token".into(),
        };
        let v = verify(
            "i",
            &s,
            &headers(&[(HEADER, TOKEN)]),
            b"",
            &Secret::new(TOKEN),
            0,
        );
        assert_eq!(v.status, Status::Verified);
    }
}
