//! The tools an agent can call: read the captured requests and deliveries, diff and verify them,
//! replay one, trigger a provider event. Reads run in this process against the store; actions run
//! the same binary's command with `--json`, so an agent gets exactly what the command line does.
//! Every result is text that carries no terminal control characters, and credential headers are
//! redacted as exports redact them.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use crate::fixture::{is_secret_header, redact_query, REDACTED};
use crate::store::StoreReader;

/// What a tool call produced: text for the agent, and whether it is an error.
#[derive(Debug, PartialEq)]
pub struct ToolResult {
    /// The result, as text.
    pub text: String,
    /// The tool ran but failed (the agent sees why).
    pub is_error: bool,
}

impl ToolResult {
    fn ok(text: String) -> Self {
        ToolResult {
            text,
            is_error: false,
        }
    }

    fn failed(text: impl Into<String>) -> Self {
        ToolResult {
            text: text.into(),
            is_error: true,
        }
    }
}

/// The tools, as `tools/list` describes them.
pub fn list() -> Value {
    let id = json!({"type": "string", "description": "A request id (req_...); a unique prefix is enough"});
    let secret = json!({"type": "string", "description": "The signing secret as env:VAR or file:PATH (a literal works but is visible in the process list)"});
    let profile = json!({"type": "string", "description": "A provider profile name (list_profiles lists them)"});
    json!([
        {
            "name": "list_requests",
            "description": "List captured webhook requests, oldest first: id, time, method, path, size, event type, signature verdict and reason, forward status.",
            "inputSchema": {"type": "object", "properties": {
                "limit": {"type": "integer", "minimum": 1, "description": "Keep the newest N (default 20)"},
                "event_type": {"type": "string", "description": "Only this provider event type"},
                "signature_status": {"enum": ["verified", "invalid", "expired", "missing", "unchecked"]},
                "path_contains": {"type": "string", "description": "Only paths containing this text"}
            }}
        },
        {
            "name": "show_request",
            "description": "One captured request in full: headers (credentials redacted), body, the handler's answer, the signature verdict and its reason, schema findings.",
            "inputSchema": {"type": "object", "properties": {"id": id}, "required": ["id"]}
        },
        {
            "name": "diff_requests",
            "description": "What changed between two captured requests: request line, changed JSON paths, whether body and headers changed.",
            "inputSchema": {"type": "object", "properties": {"old": id, "new": id}, "required": ["old", "new"]}
        },
        {
            "name": "verify_request",
            "description": "Check a captured request's signature and schema again, optionally with another profile or secret; says why a check fails.",
            "inputSchema": {"type": "object", "properties": {
                "id": id, "profile": profile, "secret": secret,
                "now": {"type": "boolean", "description": "Judge timestamps against now instead of the arrival time"}
            }, "required": ["id"]}
        },
        {
            "name": "replay_request",
            "description": "Send a captured request again, byte for byte or re-signed with a fresh timestamp, to its original target or another one; the answer is recorded.",
            "inputSchema": {"type": "object", "properties": {
                "id": id,
                "to": {"type": "string", "description": "Target: 3000, localhost:3000 or http://host:port/base"},
                "resign": {"type": "boolean"}, "profile": profile, "secret": secret,
                "new_id": {"type": "boolean", "description": "With resign: a new message id too"}
            }, "required": ["id"]}
        },
        {
            "name": "trigger_event",
            "description": "Send a provider's sample event with fresh ids, signed as the provider signs, to a target; reports the delivery and whether the provider would accept the answer.",
            "inputSchema": {"type": "object", "properties": {
                "profile": profile,
                "event": {"type": "string", "description": "The event name (list_profiles with a name lists them)"},
                "to": {"type": "string", "description": "Target (default: a local webhook-dev listen)"},
                "secret": secret,
                "set": {"type": "array", "items": {"type": "string"}, "description": "Edits such as data.amount=100"}
            }, "required": ["profile", "event"]}
        },
        {
            "name": "list_deliveries",
            "description": "The delivery log of triggers and replays: status, attempts, response status and body, error message.",
            "inputSchema": {"type": "object", "properties": {"status": {"enum": ["success", "failed", "pending"]}}}
        },
        {
            "name": "list_profiles",
            "description": "The provider profiles, or one profile's signature scheme, headers and events.",
            "inputSchema": {"type": "object", "properties": {"name": profile}}
        }
    ])
}

/// Runs tool `name` with `args` against the store in `store_dir`.
pub fn call(store_dir: &Path, name: &str, args: &Value) -> Result<ToolResult, String> {
    let text = |key: &str| args.get(key).and_then(Value::as_str).map(str::to_owned);
    let flag = |key: &str| args.get(key).and_then(Value::as_bool).unwrap_or(false);
    let required =
        |key: &str| text(key).ok_or_else(|| format!("{name} needs the string argument {key:?}"));
    let run = Runner::new(store_dir);
    Ok(match name {
        "list_requests" => list_requests(store_dir, args),
        "show_request" => show_request(store_dir, &required("id")?),
        "diff_requests" => run.command(["diff", &required("old")?, &required("new")?, "--json"]),
        "verify_request" => {
            let mut argv = vec!["verify".to_owned(), required("id")?, "--json".into()];
            push_option(&mut argv, "--profile", text("profile"));
            push_option(&mut argv, "--secret", text("secret"));
            if flag("now") {
                argv.push("--now".into());
            }
            run.command(argv)
        }
        "replay_request" => {
            let mut argv = vec!["replay".to_owned(), required("id")?, "--json".into()];
            push_option(&mut argv, "--to", text("to"));
            if flag("resign") {
                argv.push("--resign".into());
                push_option(&mut argv, "--profile", text("profile"));
                push_option(&mut argv, "--secret", text("secret"));
                if flag("new_id") {
                    argv.push("--new-id".into());
                }
            }
            run.command(argv)
        }
        "trigger_event" => {
            let mut argv = vec![
                "trigger".to_owned(),
                required("profile")?,
                required("event")?,
                "--json".into(),
                "--retry-schedule".into(),
                "none".into(),
            ];
            push_option(&mut argv, "--to", text("to"));
            push_option(&mut argv, "--secret", text("secret"));
            for edit in args
                .get("set")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let edit = edit
                    .as_str()
                    .ok_or("set must be a list of strings such as data.amount=100")?;
                argv.extend(["--set".to_owned(), edit.to_owned()]);
            }
            run.command(argv)
        }
        "list_deliveries" => {
            let mut argv = vec!["deliveries".to_owned(), "list".into(), "--json".into()];
            push_option(&mut argv, "--status", text("status"));
            run.command(argv)
        }
        "list_profiles" => {
            let mut argv = vec!["profiles".to_owned()];
            argv.extend(text("name"));
            run.command(argv)
        }
        other => return Err(format!("no tool {other:?}")),
    })
}

fn push_option(argv: &mut Vec<String>, flag: &str, value: Option<String>) {
    if let Some(value) = value {
        argv.extend([flag.to_owned(), value]);
    }
}

fn list_requests(store_dir: &Path, args: &Value) -> ToolResult {
    let reader = match StoreReader::open(store_dir) {
        Ok(reader) => reader,
        Err(err) => return ToolResult::failed(format!("{err:#}")),
    };
    let all = match reader.list(None) {
        Ok(all) => all,
        Err(err) => return ToolResult::failed(format!("{err:#}")),
    };
    let wanted = |key: &str| args.get(key).and_then(Value::as_str);
    let limit = args.get("limit").and_then(Value::as_u64).unwrap_or(20) as usize;
    let kept: Vec<_> = all
        .into_iter()
        .filter(|s| wanted("event_type").is_none_or(|e| s.event_type.as_deref() == Some(e)))
        .filter(|s| wanted("signature_status").is_none_or(|st| s.signature.status.as_str() == st))
        .filter(|s| wanted("path_contains").is_none_or(|p| s.path.contains(p)))
        .collect();
    let skip = kept.len().saturating_sub(limit.max(1));
    let lines: Vec<String> = kept[skip..]
        .iter()
        .filter_map(|s| serde_json::to_value(s).ok())
        .map(|mut summary| {
            redact_paths(&mut summary);
            summary.to_string()
        })
        .collect();
    ToolResult::ok(if lines.is_empty() {
        "no captured requests match".to_owned()
    } else {
        lines.join("\n")
    })
}

fn show_request(store_dir: &Path, id: &str) -> ToolResult {
    let stored = StoreReader::open(store_dir).and_then(|reader| reader.get(id));
    match stored {
        Ok(Some(stored)) => {
            let mut detail = match serde_json::to_value(stored.to_detail()) {
                Ok(value) => value,
                Err(err) => return ToolResult::failed(err.to_string()),
            };
            redact_headers(detail.get_mut("headers"));
            redact_headers(detail.pointer_mut("/response/headers"));
            redact_paths(&mut detail);
            ToolResult::ok(serde_json::to_string_pretty(&detail).unwrap_or_default())
        }
        Ok(None) => ToolResult::failed(format!("no request {id:?} in {}", store_dir.display())),
        Err(err) => ToolResult::failed(format!("{err:#}")),
    }
}

/// Replaces the values of credential headers in a `[[name, value], ...]` list.
fn redact_headers(headers: Option<&mut Value>) {
    for pair in headers.and_then(Value::as_array_mut).into_iter().flatten() {
        if let Some([name, value]) = pair.as_array_mut().map(Vec::as_mut_slice) {
            if name.as_str().is_some_and(is_secret_header) {
                *value = Value::String(REDACTED.to_owned());
            }
        }
    }
}

/// Redacts credential query parameters wherever a request's path appears in `value`: `path`
/// fields and a diff's `request_line` pair (`"METHOD /path?query"`).
fn redact_paths(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                match (key.as_str(), &mut *field) {
                    ("path", Value::String(path)) => *path = redact_query(path),
                    ("request_line", Value::Array(lines)) => {
                        for line in lines.iter_mut() {
                            if let Value::String(line) = line {
                                *line = redact_request_line(line);
                            }
                        }
                    }
                    _ => redact_paths(field),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_paths),
        _ => {}
    }
}

fn redact_request_line(line: &str) -> String {
    match line.split_once(' ') {
        Some((method, path)) => format!("{method} {}", redact_query(path)),
        None => line.to_owned(),
    }
}

/// Each line of a command's `--json` output with [`redact_paths`] applied; other lines as they are.
fn redact_json_lines(text: &str) -> String {
    text.lines()
        .map(|line| match serde_json::from_str::<Value>(line) {
            Ok(mut value) if value.is_object() => {
                redact_paths(&mut value);
                value.to_string()
            }
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs this binary's own commands against the store.
struct Runner {
    program: Result<PathBuf, String>,
    store_dir: PathBuf,
}

impl Runner {
    fn new(store_dir: &Path) -> Self {
        Runner {
            program: std::env::current_exe()
                .map_err(|e| format!("cannot find webhook-dev itself: {e}")),
            store_dir: store_dir.to_owned(),
        }
    }

    /// The command's stdout when it succeeds; its stdout and stderr, as an error, when it fails.
    fn command<I, S>(&self, argv: I) -> ToolResult
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let program = match &self.program {
            Ok(program) => program,
            Err(err) => return ToolResult::failed(err.clone()),
        };
        let output = Command::new(program)
            .arg("--store")
            .arg(&self.store_dir)
            .args(argv)
            .stdin(std::process::Stdio::null())
            .output();
        let output = match output {
            Ok(output) => output,
            Err(err) => return ToolResult::failed(format!("cannot run webhook-dev: {err}")),
        };
        let stdout = redact_json_lines(&crate::inert::text(&String::from_utf8_lossy(
            &output.stdout,
        )));
        let stderr = crate::inert::text(&String::from_utf8_lossy(&output.stderr)).into_owned();
        if output.status.success() {
            let mut text = stdout.trim_end().to_owned();
            if !stderr.trim().is_empty() {
                text.push_str("\n\n");
                text.push_str(stderr.trim_end());
            }
            ToolResult::ok(text)
        } else {
            ToolResult::failed(
                format!("{}\n{}", stdout.trim_end(), stderr.trim_end())
                    .trim()
                    .to_owned(),
            )
        }
    }
}
