//! Signature verdicts. Placeholder until the scheme implementations land.

use serde::{Deserialize, Serialize};

/// Header list as the signature checks see it.
pub type Headers = [(String, Vec<u8>)];

/// The outcome of a signature check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// A signature matched.
    Verified,
    /// Signature present but wrong or unparseable.
    Invalid,
    /// Signature timestamp outside the tolerance.
    Expired,
    /// The profile's signature header is absent.
    Missing,
    /// Nothing was checked.
    Unchecked,
}

impl Status {
    /// The lower-case name used in JSON and the store.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Verified => "verified",
            Status::Invalid => "invalid",
            Status::Expired => "expired",
            Status::Missing => "missing",
            Status::Unchecked => "unchecked",
        }
    }

    /// Parses the lower-case name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "verified" => Status::Verified,
            "invalid" => Status::Invalid,
            "expired" => Status::Expired,
            "missing" => Status::Missing,
            "unchecked" => Status::Unchecked,
            _ => return None,
        })
    }
}

/// A signature verdict with the profile used and the reason for anything but `verified`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The outcome.
    pub status: Status,
    /// The profile that was checked, if any.
    pub profile: Option<String>,
    /// Why the status is not `verified`.
    pub reason: Option<String>,
}

/// The verdict when no profile is configured.
pub fn unchecked(_headers: &Headers) -> Verdict {
    Verdict {
        status: Status::Unchecked,
        profile: None,
        reason: Some("no profile configured".into()),
    }
}
