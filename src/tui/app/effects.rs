//! The actions that leave the inspector: replays (as is, re-signed, edited), copy and save.

use std::path::PathBuf;

use bytes::Bytes;

use super::{App, Mode};
use crate::checks::Checks;
use crate::engine::RequestHead;
use crate::replay::{choose_resigner, replay_head, ResignInputs, ResignProblem, Resigner};
use crate::store::StoredRequest;
use crate::target::forward_base;
use crate::tui::body;
use crate::tui::detail;
use crate::tui::edit::{self, Draft};
use crate::tui::history::Loaded;
use crate::tui::message::Effect;

/// How `R` would re-sign `stored` with `checks` (the routes of `--profile`, `--secret` and
/// `--config`), by the one policy ([`choose_resigner`]). The error says what to start with.
pub(crate) fn resigner_for(
    checks: Option<&Checks>,
    stored: &StoredRequest,
) -> Result<(String, Resigner), String> {
    let path = &stored.summary.path;
    let no_secret = || {
        format!(
            "R re-signs with a secret, and none applies to {}: start with --profile NAME --secret S (r replays as is)",
            detail::one_line(path)
        )
    };
    let checks = checks.ok_or_else(no_secret)?;
    let inputs = ResignInputs {
        profile: None,
        secret: None,
        route: checks.route_for(path),
        recorded_profile: stored.summary.signature.profile.as_deref(),
        headers: Some(&stored.headers),
    };
    choose_resigner(checks.catalog(), inputs).map_err(|problem| match problem {
        ResignProblem::NoSecret => no_secret(),
        ResignProblem::NoProfile => "R needs to know how to sign: this request's scheme is unknown, start with --profile NAME --secret S".to_string(),
        ResignProblem::UnknownProfile(name) => format!(
            "R cannot re-sign: no profile named {}",
            detail::one_line(&name)
        ),
    })
}

/// The most bytes `y` puts through the terminal: OSC 52 sequences beyond ~100 kB are dropped
/// by many terminals (and by tmux) without a word.
pub const MAX_COPY: usize = 100_000;

/// Whether a decoded body was gzip on the wire (and is re-compressed after an edit).
fn is_gzip(decoded: &body::Decoded) -> bool {
    decoded
        .note
        .as_deref()
        .is_some_and(|n| n.starts_with("gzip:"))
}

impl App {
    /// The selected request, loaded; `None` after saying why in the status line.
    fn load_selected(&mut self) -> Option<(String, Loaded)> {
        let Some(id) = self.selected_id().map(str::to_string) else {
            self.error("no request selected");
            return None;
        };
        let loaded = self.load_or_report(&id)?;
        Some((id, loaded))
    }

    /// Request `id`, loaded; `None` after saying why in the status line.
    fn load_or_report(&mut self, id: &str) -> Option<Loaded> {
        self.load(id).map_err(|e| self.error(e)).ok()
    }

    pub(super) fn replay(&mut self, resign: bool) -> Vec<Effect> {
        let Some((_, loaded)) = self.load_selected() else {
            return vec![];
        };
        if resign {
            if let Err(e) = resigner_for(self.checks.as_ref(), &loaded.stored) {
                self.error(e);
                return vec![];
            }
        }
        let draft = Draft::of(&loaded.stored);
        self.replay_effect(
            loaded,
            draft,
            resign,
            if resign { "re-signed replay" } else { "replay" },
        )
    }

    pub(super) fn replay_effect(
        &mut self,
        loaded: Loaded,
        draft: Draft,
        resign: bool,
        label: &'static str,
    ) -> Vec<Effect> {
        let edited = draft != Draft::of(&loaded.stored);
        if self.session.mode == Mode::Inspect
            && self.session.forward.is_none()
            && loaded.forward_target.is_none()
        {
            self.error(format!(
                "{} was never forwarded: start inspect with --forward TARGET to replay it",
                loaded.stored.summary.id
            ));
            return vec![];
        }
        let resigner = if resign {
            match resigner_for(self.checks.as_ref(), &loaded.stored) {
                Ok((_, resigner)) => Some(resigner),
                Err(e) => {
                    self.error(e);
                    return vec![];
                }
            }
        } else {
            None
        };
        match build_replay(&loaded, draft, resigner.as_ref(), self.now_us / 1_000_000) {
            Ok((head, body)) => {
                self.info(format!("sending {label} of {}…", loaded.stored.summary.id));
                vec![Effect::Replay {
                    original: loaded.stored.summary.id.clone(),
                    head: Box::new(head),
                    body,
                    recorded_base: loaded
                        .forward_target
                        .as_deref()
                        .map(|url| forward_base(url, &loaded.stored.summary.path).to_string()),
                    label,
                    edited,
                }]
            }
            Err(e) => {
                self.error(e);
                vec![]
            }
        }
    }

    pub(super) fn edit(&mut self) -> Vec<Effect> {
        let Some((id, loaded)) = self.load_selected() else {
            return vec![];
        };
        let decoded = body::decode(&loaded.stored.headers, &loaded.stored.body);
        let gzip = is_gzip(&decoded);
        if decoded.note.is_some() && !gzip {
            self.error("this body's encoding cannot be edited and re-encoded; r replays it as is");
            return vec![];
        }
        match edit::message(&loaded.stored, &decoded.bytes) {
            Some(text) => vec![Effect::Edit { original: id, text }],
            None => {
                self.error("binary bodies or headers cannot be edited as text; r replays it as is");
                vec![]
            }
        }
    }

    pub(super) fn edited(
        &mut self,
        original: String,
        text: Result<Vec<u8>, String>,
    ) -> Vec<Effect> {
        let text = match text.and_then(|t| {
            String::from_utf8(t)
                .map_err(|_| "the edited file is not UTF-8: nothing replayed".to_string())
        }) {
            Ok(text) => text,
            Err(e) => {
                self.error(e);
                return vec![];
            }
        };
        let Some(loaded) = self.load_or_report(&original) else {
            return vec![];
        };
        let decoded = body::decode(&loaded.stored.headers, &loaded.stored.body);
        let gzip = is_gzip(&decoded);
        let encode = |bytes: &[u8]| {
            if gzip {
                crate::tui::actions::gzip(bytes)
            } else {
                bytes.to_vec()
            }
        };
        let draft = match edit::parse(&text, &loaded.stored, &decoded.bytes, encode) {
            Ok(draft) => draft,
            Err(e) => {
                self.error(e);
                return vec![];
            }
        };
        if draft == Draft::of(&loaded.stored) {
            self.info("nothing changed: nothing replayed (r replays as is)");
            return vec![];
        }
        let resign = resigner_for(self.checks.as_ref(), &loaded.stored).is_ok();
        self.replay_effect(
            loaded,
            draft,
            resign,
            if resign {
                "edited, re-signed replay"
            } else {
                "edited replay"
            },
        )
    }

    /// `y` then `c`, `b`, `i` or `h`: the selection as a curl command (credentials redacted as
    /// `export --format curl` does), its body, its id or its HAR entry (redacted as well).
    pub(super) fn copy(&mut self, what: char) -> Vec<Effect> {
        let Some((id, loaded)) = self.load_selected() else {
            return vec![];
        };
        let (text, description) = match what {
            'c' => {
                let target = self
                    .session
                    .forward
                    .clone()
                    .or_else(|| {
                        loaded
                            .forward_target
                            .as_deref()
                            .map(|url| forward_base(url, &loaded.stored.summary.path).to_string())
                    })
                    .or_else(|| self.session.listen.as_ref().map(|a| format!("http://{a}")))
                    .unwrap_or_else(|| format!("http://127.0.0.1:{}", crate::cli::DEFAULT_PORT));
                (
                    crate::export::curl_command(&loaded.stored, &target, true),
                    format!("curl command for {id} (to {target}, credentials redacted)"),
                )
            }
            'b' => {
                let decoded = body::decode(&loaded.stored.headers, &loaded.stored.body);
                match String::from_utf8(decoded.bytes.into_owned()) {
                    Ok(text) => (text, format!("body of {id}")),
                    Err(_) => {
                        self.error(
                            "a binary body cannot be copied as text: s saves it as a fixture",
                        );
                        return vec![];
                    }
                }
            }
            'i' => (id.clone(), format!("id {id}")),
            'h' => match serde_json::to_string_pretty(&crate::har::entry(&loaded.stored, true)) {
                Ok(text) => (text, format!("HAR entry of {id} (credentials redacted)")),
                Err(e) => {
                    self.error(format!("cannot build the HAR entry: {e}"));
                    return vec![];
                }
            },
            _ => {
                self.info("nothing copied");
                return vec![];
            }
        };
        if text.len() > MAX_COPY {
            self.error(format!(
                "the {description} is {}, too large to copy through the terminal (at most {}): s saves it, `webhook-dev export` writes it",
                crate::output::human_size(text.len() as u64),
                crate::output::human_size(MAX_COPY as u64)
            ));
            return vec![];
        }
        vec![Effect::Copy {
            text,
            what: description,
        }]
    }

    pub(super) fn save(&mut self, path: String, id: String) -> Vec<Effect> {
        if path.trim().is_empty() {
            self.error("no file name given: nothing saved");
            return vec![];
        }
        match self.load(&id) {
            Ok(loaded) => match crate::tui::actions::fixture_json(&loaded.stored) {
                Ok(contents) => vec![Effect::Save {
                    path: PathBuf::from(path.trim()),
                    contents,
                }],
                Err(e) => {
                    self.error(e);
                    vec![]
                }
            },
            Err(e) => {
                self.error(e);
                vec![]
            }
        }
    }
}

/// The head and body of a replay of `loaded` sending `draft` (the original, or an edit of it):
/// the length fixed up, linked to the original, and re-signed when a signer is given.
pub(crate) fn build_replay(
    loaded: &Loaded,
    draft: Draft,
    resigner: Option<&Resigner>,
    now_unix: i64,
) -> Result<(RequestHead, Bytes), String> {
    let Draft {
        method,
        path,
        headers,
        body,
    } = draft;
    let head = RequestHead {
        replay_of: Some(loaded.stored.summary.id.clone()),
        ..RequestHead::new(method, path, headers)
    };
    let head = replay_head(head, &body, resigner, now_unix).map_err(|e| format!("{e:#}"))?;
    Ok((head, body))
}
