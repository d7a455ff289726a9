//! What is checked for each captured request: which route it took (profile, secret, target),
//! its signature verdict, its event type and its schema.

use std::sync::Arc;

use crate::forward::Forwarder;
use crate::model::SchemaReport;
use crate::providers::{Catalog, Profile};
use crate::signature::{self, Headers, Secret, Verdict};

/// A path prefix and what applies to requests below it.
#[derive(Clone, Debug)]
pub struct Route {
    /// Requests whose path starts with this prefix take this route.
    pub prefix: String,
    /// The provider profile, by name.
    pub profile: Option<String>,
    /// The signing secret.
    pub secret: Option<Secret>,
    /// Where to forward instead of the default target.
    pub forwarder: Option<Forwarder>,
}

impl Route {
    /// The route that applies everywhere: `--profile`, `--secret`, `--forward`.
    pub fn everywhere(profile: Option<String>, secret: Option<Secret>) -> Route {
        Route {
            prefix: "/".into(),
            profile,
            secret,
            forwarder: None,
        }
    }

    fn matches(&self, path: &str) -> bool {
        let prefix = self.prefix.trim_end_matches('/');
        path.starts_with(prefix)
            && matches!(path.as_bytes().get(prefix.len()), None | Some(b'/' | b'?'))
    }
}

/// The findings for one request, made while it is forwarded.
#[derive(Clone, Debug)]
pub(crate) struct Findings<'a> {
    /// The profile that applies: the route's, else the one its headers reveal.
    pub profile: Option<&'a Profile>,
    /// The signature verdict.
    pub signature: Verdict,
    /// The event type, when a profile names it.
    pub event_type: Option<String>,
    /// Schema findings, when a profile with this event was found.
    pub schema: Option<SchemaReport>,
}

/// The provider catalog and the routes; shared by every request.
#[derive(Clone)]
pub struct Checks {
    catalog: Arc<Catalog>,
    routes: Arc<Vec<Route>>,
}

impl Default for Checks {
    fn default() -> Self {
        Checks::new(Catalog::builtin(), Vec::new()).expect("no routes to check")
    }
}

impl Checks {
    /// Checks with `catalog` and `routes`; every route's profile must be in the catalog.
    pub fn new(catalog: Catalog, mut routes: Vec<Route>) -> anyhow::Result<Checks> {
        for route in &routes {
            if let Some(name) = &route.profile {
                catalog.require(name)?;
            }
        }
        routes.sort_by_key(|r| std::cmp::Reverse(r.prefix.trim_end_matches('/').len()));
        Ok(Checks {
            catalog: Arc::new(catalog),
            routes: Arc::new(routes),
        })
    }

    /// The provider catalog.
    pub(crate) fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The most specific route for `path`, if any.
    pub(crate) fn route_for(&self, path: &str) -> Option<&Route> {
        self.routes.iter().find(|r| r.matches(path))
    }

    /// The forwarders of routes that name a target of their own.
    pub(crate) fn route_forwarders(&self) -> impl Iterator<Item = &Forwarder> {
        self.routes
            .iter()
            .filter_map(|route| route.forwarder.as_ref())
    }

    /// The profile that applies to a request: its route's, else the one its headers reveal.
    fn profile_for(&self, route: Option<&Route>, headers: &Headers) -> Option<&Profile> {
        match route.and_then(|r| r.profile.as_deref()) {
            Some(name) => self.catalog.get(name),
            None => signature::detect(headers).and_then(|name| self.catalog.get(name)),
        }
    }

    /// Verifies the signature and finds the event type and schema problems of a request that
    /// took `route` (see [`Checks::route_for`]).
    pub(crate) fn examine<'a>(
        &'a self,
        route: Option<&'a Route>,
        headers: &Headers,
        body: &[u8],
        now_unix: i64,
    ) -> Findings<'a> {
        let profile = self.profile_for(route, headers);
        let secret = route.and_then(|route| route.secret.as_ref());
        let profile_named = route.is_some_and(|route| route.profile.is_some());
        let signature = match (secret, profile) {
            (Some(secret), Some(profile)) => signature::verify(
                &profile.name,
                &profile.scheme,
                headers,
                body,
                secret,
                now_unix,
            ),
            (Some(_), None) if !profile_named => signature::no_scheme_found(),
            (None, Some(profile)) if profile_named => signature::no_secret_for(&profile.name),
            _ => signature::unchecked(headers),
        };
        let check = profile.map(|p| (p, p.check_event(headers, body)));
        let event_type = check.as_ref().and_then(|(_, c)| c.event.clone());
        // An event type outside the profile's catalog is reported too ("avara has no event ..."),
        // so a typo or a new event is never silently left unchecked.
        let schema = check.and_then(|(_, check)| {
            check.event.is_some().then(|| SchemaReport {
                event: check.event,
                problems: check.problems,
                answer_problems: Vec::new(),
            })
        });
        Findings {
            profile,
            signature,
            event_type,
            schema,
        }
    }
}

impl Findings<'_> {
    /// What is wrong with the handler's answer to `event`, when the provider reads the answer.
    pub(crate) fn answer_problems(
        &self,
        event: &str,
        status: u16,
        answer: &[u8],
        request: &[u8],
    ) -> Vec<String> {
        match self.profile {
            Some(profile) if profile.reads_answer(event) => {
                profile
                    .check_answer(event, status, answer, request)
                    .problems
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::Status;

    #[test]
    fn the_longest_matching_prefix_wins_on_segment_boundaries() {
        let routes = vec![
            Route {
                prefix: "/hooks".into(),
                ..Route::everywhere(Some("github".into()), None)
            },
            Route {
                prefix: "/hooks/avara/".into(),
                ..Route::everywhere(Some("avara".into()), None)
            },
            Route::everywhere(Some("stripe".into()), None),
        ];
        let checks = Checks::new(Catalog::builtin(), routes).unwrap();
        let profile = |path: &str| checks.route_for(path).and_then(|r| r.profile.clone());
        assert_eq!(profile("/hooks/avara/x").as_deref(), Some("avara"));
        assert_eq!(profile("/hooks/avara?x=1").as_deref(), Some("avara"));
        assert_eq!(profile("/hooks/avaraX").as_deref(), Some("github"));
        assert_eq!(profile("/hooksy").as_deref(), Some("stripe"));
    }

    #[test]
    fn an_unknown_profile_is_refused_with_the_known_ones() {
        let Err(err) = Checks::new(
            Catalog::builtin(),
            vec![Route::everywhere(Some("nope".into()), None)],
        ) else {
            panic!("accepted an unknown profile");
        };
        assert!(err.to_string().contains("known profiles: ") && err.to_string().contains("avara"));
    }

    #[test]
    fn a_profile_without_secret_is_unchecked_and_says_what_to_do() {
        let checks = Checks::new(
            Catalog::builtin(),
            vec![Route::everywhere(Some("avala".into()), None)],
        )
        .unwrap();
        let findings = checks.examine(checks.route_for("/"), &[], b"{}", 0);
        assert_eq!(findings.signature.status, Status::Unchecked);
        assert!(findings.signature.reason.unwrap().contains("--secret"));
    }
}
