//! The provider files compiled into the binary.

/// File name and text of every built-in provider file.
pub(super) const FILES: &[(&str, &str)] = &[
    (
        "avala.toml",
        include_str!("../../assets/providers/avala.toml"),
    ),
    (
        "avara.toml",
        include_str!("../../assets/providers/avara.toml"),
    ),
    (
        "github.toml",
        include_str!("../../assets/providers/github.toml"),
    ),
    (
        "hmac.toml",
        include_str!("../../assets/providers/hmac.toml"),
    ),
    (
        "infermedica.toml",
        include_str!("../../assets/providers/infermedica.toml"),
    ),
    (
        "shopify.toml",
        include_str!("../../assets/providers/shopify.toml"),
    ),
    (
        "slack.toml",
        include_str!("../../assets/providers/slack.toml"),
    ),
    (
        "standard-webhooks.toml",
        include_str!("../../assets/providers/standard-webhooks.toml"),
    ),
    (
        "stripe.toml",
        include_str!("../../assets/providers/stripe.toml"),
    ),
    (
        "svix.toml",
        include_str!("../../assets/providers/svix.toml"),
    ),
];
