//! Where requests are forwarded: `3000`, `localhost:3000`, `http://host:port/base` or
//! `https://host:port/base`.

use std::fmt;
use std::str::FromStr;

use hyper::Uri;

/// Where a request was forwarded, less its own `path`: the TARGET that sends it to the same
/// place again (`http://h:1/api` from `http://h:1/api/hooks` and `/hooks`).
pub fn forward_base<'u>(url: &'u str, path: &str) -> &'u str {
    url.strip_suffix(path).unwrap_or(url)
}

/// A parsed forward target: scheme and authority, plus a base path prefixed to every request path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    secure: bool,
    authority: String,
    base_path: String,
}

/// Why a TARGET could not be understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid forward target {input:?}: {problem} (use 3000, localhost:3000, http://host:port/base or https://host:port/base)")]
pub struct TargetError {
    input: String,
    problem: &'static str,
}

impl Target {
    /// `host:port`, the value for the Host header.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The base path (`/api` for `http://host:1/api/`); empty when there is none.
    pub fn base_path(&self) -> &str {
        &self.base_path
    }

    /// Whether requests go over TLS (`https://`).
    pub fn is_https(&self) -> bool {
        self.secure
    }

    /// `https` or `http`.
    pub(crate) fn scheme(&self) -> &'static str {
        if self.secure {
            "https"
        } else {
            "http"
        }
    }

    /// The same host and port without the base path.
    pub fn root(&self) -> Target {
        Target {
            secure: self.secure,
            authority: self.authority.clone(),
            base_path: String::new(),
        }
    }

    /// The length of `scheme://authority`: where the path of [`Target::uri_for`]'s URI begins.
    pub(crate) fn origin_len(&self) -> usize {
        self.scheme().len() + "://".len() + self.authority.len()
    }

    /// The full URI for a request path (path and query as received).
    pub fn uri_for(&self, path_and_query: &str) -> String {
        let scheme = self.scheme();
        let mut uri = String::with_capacity(
            scheme.len() + 4 + self.authority.len() + self.base_path.len() + path_and_query.len(),
        );
        uri.push_str(scheme);
        uri.push_str("://");
        uri.push_str(&self.authority);
        uri.push_str(&self.base_path);
        if !path_and_query.starts_with('/') {
            uri.push('/');
        }
        uri.push_str(path_and_query);
        uri
    }
}

impl FromStr for Target {
    type Err = TargetError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |problem| TargetError {
            input: input.to_string(),
            problem,
        };
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(fail("it is empty"));
        }
        let url = if trimmed.bytes().all(|b| b.is_ascii_digit()) {
            format!("http://localhost:{trimmed}")
        } else if trimmed.contains("://") {
            trimmed.to_string()
        } else {
            format!("http://{trimmed}")
        };
        let uri: Uri = url.parse().map_err(|_| fail("it is not a URL"))?;
        let secure = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(fail("the scheme must be http or https")),
        };
        let authority = uri.authority().ok_or_else(|| fail("it has no host"))?;
        if authority.host().is_empty() {
            return Err(fail("it has no host"));
        }
        if uri.query().is_some() {
            return Err(fail("a target cannot carry a query"));
        }
        let port = authority
            .port_u16()
            .unwrap_or(if secure { 443 } else { 80 });
        if port == 0 {
            return Err(fail("port 0 is not a port"));
        }
        Ok(Target {
            secure,
            authority: format!("{}:{}", authority.host(), port),
            base_path: uri.path().trim_end_matches('/').to_string(),
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.scheme(),
            self.authority,
            self.base_path
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_port_means_localhost() {
        let t: Target = "3000".parse().unwrap();
        assert_eq!(t.to_string(), "http://localhost:3000");
        assert_eq!(t.uri_for("/hook?a=1"), "http://localhost:3000/hook?a=1");
    }

    #[test]
    fn host_and_port() {
        let t: Target = "localhost:3000".parse().unwrap();
        assert_eq!(t.authority(), "localhost:3000");
    }

    #[test]
    fn a_base_path_is_prefixed() {
        let t: Target = "http://127.0.0.1:8080/api/".parse().unwrap();
        assert_eq!(
            t.uri_for("/hooks/a?x=%20"),
            "http://127.0.0.1:8080/api/hooks/a?x=%20"
        );
        assert_eq!(t.authority(), "127.0.0.1:8080");
    }

    #[test]
    fn default_port_is_80() {
        let t: Target = "http://example.test".parse().unwrap();
        assert_eq!(t.authority(), "example.test:80");
    }

    #[test]
    fn https_targets_keep_their_scheme_and_default_to_443() {
        let t: Target = "https://localhost:5001/api/".parse().unwrap();
        assert!(t.is_https());
        assert_eq!(t.to_string(), "https://localhost:5001/api");
        assert_eq!(t.uri_for("/hook"), "https://localhost:5001/api/hook");
        assert_eq!(&t.uri_for("/hook")[t.origin_len()..], "/api/hook");
        assert_eq!(t.root().to_string(), "https://localhost:5001");
        let t: Target = "https://example.test".parse().unwrap();
        assert_eq!(t.authority(), "example.test:443");
    }

    #[test]
    fn bad_targets_are_explained() {
        for bad in ["", "ftp://x:1", "http://x:1/?q=1", "0", "::::"] {
            let err = bad.parse::<Target>().unwrap_err().to_string();
            assert!(err.contains("invalid forward target"), "{bad}: {err}");
        }
    }
}
