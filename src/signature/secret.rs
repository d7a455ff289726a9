use std::fmt;

/// A signing secret or token. Its `Debug` output is redacted and it has no `Display`, so it
/// cannot leak into logs or reasons by accident; [`Secret::expose`] is the one way to read it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret as the user gave it (after any `env:`/`file:` resolution).
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret's text; call sites should be few and obvious.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(format!("{s:#?}"), "Secret(<redacted>)");
        assert!(!format!("{:?}", Some(&s)).contains("MfKQ"));
    }

    #[test]
    fn expose_returns_the_value() {
        assert_eq!(Secret::new(String::from("abc")).expose(), "abc");
    }
}
