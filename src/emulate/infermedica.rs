//! Infermedica's webhook configuration API, as its document describes it: `/api/v2/config/webhook`
//! behind a Bearer credential; the token is answered on creation and on a PATCH that sets it,
//! and omitted everywhere else. Errors are `{"detail": …}`, validation errors a 422 listing
//! each problem's location and message.

use chrono::Utc;
use hyper::Method;
use serde_json::{json, Value};

use super::http::{is_http_url, ApiRequest, Reply};
use super::subscriptions::{Changes, Subscription};
use super::Emulator;
use crate::model::format_time;
use crate::signature::Secret;

/// The configuration collection's path.
pub const PATH: &str = "/api/v2/config/webhook";

fn detail(status: u16, message: impl Into<String>) -> Reply {
    Reply::json(status, json!({"detail": message.into()}))
}

fn not_found(id: &str) -> Reply {
    detail(404, format!("Webhook configuration {id:?} not found."))
}

/// A 422 naming every problem: `{"detail": [{"loc": ["body", FIELD], "msg", "type"}]}`.
fn invalid(problems: Vec<(&str, String)>) -> Reply {
    let detail: Vec<Value> = problems
        .into_iter()
        .map(|(field, msg)| {
            let loc = if field.is_empty() {
                json!(["body"])
            } else {
                json!(["body", field])
            };
            json!({"loc": loc, "msg": msg, "type": "value_error"})
        })
        .collect();
    Reply::json(422, json!({ "detail": detail }))
}

/// A configuration as answered; the token only when `with_token`.
pub fn config_json(sub: &Subscription, with_token: bool) -> Value {
    let mut value = json!({
        "id": sub.id,
        "url": sub.target_url,
        "subscribed_events": sub.events,
    });
    if with_token {
        value["authorization_token"] = Value::String(sub.secret.expose().to_string());
    }
    value
}

/// Answers one request to the configuration API.
pub async fn handle(emu: &Emulator, req: &ApiRequest) -> anyhow::Result<Reply> {
    let path = req.path.trim_end_matches('/');
    let id = match path.strip_prefix(PATH) {
        Some("") => None,
        Some(rest) => match rest.strip_prefix('/') {
            Some(id) if !id.is_empty() && !id.contains('/') => Some(id),
            _ => return Ok(unknown_path()),
        },
        None => return Ok(unknown_path()),
    };
    let bearer = req
        .header("authorization")
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|credentials| !credentials.trim().is_empty());
    if !bearer {
        return Ok(detail(
            401,
            "Not authenticated: send Authorization: Bearer <credentials> (any non-empty credentials work here).",
        ));
    }
    let method = &req.method;
    match id {
        None if method == Method::GET => {
            let all = emu.db.all_subscriptions("infermedica").await?;
            Ok(Reply::json(
                200,
                Value::Array(all.iter().map(|s| config_json(s, false)).collect()),
            ))
        }
        None if method == Method::POST => create(emu, req).await,
        Some(id) if method == Method::GET => match emu.db.subscription("infermedica", id).await? {
            Some(sub) => Ok(Reply::json(200, config_json(&sub, false))),
            None => Ok(not_found(id)),
        },
        Some(id) if method == Method::PATCH => update(emu, req, id).await,
        Some(id) if method == Method::DELETE => {
            match emu.db.delete_subscription("infermedica", id).await? {
                Some(sub) => Ok(Reply::json(200, config_json(&sub, false))),
                None => Ok(not_found(id)),
            }
        }
        _ => Ok(detail(405, format!("Method {method} not allowed here."))),
    }
}

fn unknown_path() -> Reply {
    detail(
        404,
        format!("Not found: this Infermedica emulator serves {PATH} and {PATH}/{{id}}."),
    )
}

/// Reads the fields a create or update may set (Infermedica's wire names), checked before
/// anything is stored.
fn read_fields(emu: &Emulator, req: &ApiRequest, creating: bool) -> Result<Changes, Reply> {
    let body = req
        .json()
        .map_err(|e| invalid(vec![("", format!("the body is not valid JSON: {e}"))]))?;
    let Value::Object(body) = body else {
        return Err(invalid(vec![("", "the body must be a JSON object".into())]));
    };
    let mut problems = Vec::new();
    let mut fields = Changes::default();
    match body.get("url") {
        None if creating => problems.push(("url", "field required".into())),
        None => {}
        Some(Value::String(url)) if is_http_url(url) => fields.target_url = Some(url.clone()),
        Some(other) => problems.push(("url", format!("{other} is not an http:// or https:// URL"))),
    }
    match body.get("authorization_token") {
        None if creating => problems.push(("authorization_token", "field required".into())),
        None => {}
        Some(Value::String(token)) if !token.trim().is_empty() => {
            fields.secret = Some(token.clone())
        }
        Some(_) => problems.push(("authorization_token", "must be a non-empty string".into())),
    }
    let known: Vec<&str> = emu.profile.events.iter().map(|e| e.name.as_str()).collect();
    match body.get("subscribed_events") {
        None if creating => problems.push(("subscribed_events", "field required".into())),
        None => {}
        Some(Value::Array(items)) if !items.is_empty() => {
            let mut events: Vec<String> = Vec::new();
            for item in items {
                match item.as_str() {
                    Some(name) if known.contains(&name) => {
                        if !events.iter().any(|e| e == name) {
                            events.push(name.to_string());
                        }
                    }
                    _ => problems.push((
                        "subscribed_events",
                        format!(
                            "{item} is not an event type; available: {}",
                            known.join(", ")
                        ),
                    )),
                }
            }
            fields.events = Some(events);
        }
        Some(_) => problems.push((
            "subscribed_events",
            format!(
                "must be a non-empty list of event types ({})",
                known.join(", ")
            ),
        )),
    }
    if problems.is_empty() {
        Ok(fields)
    } else {
        Err(invalid(problems))
    }
}

async fn create(emu: &Emulator, req: &ApiRequest) -> anyhow::Result<Reply> {
    let fields = match read_fields(emu, req, true) {
        Ok(fields) => fields,
        Err(reply) => return Ok(reply),
    };
    let now = format_time(&Utc::now());
    let sub = Subscription {
        id: crate::providers::uuid(&mut rand::rng(), false),
        target_url: fields.target_url.expect("required on create"),
        events: fields.events.expect("required on create"),
        is_active: true,
        secret: Secret::new(fields.secret.expect("required on create")),
        created_at: now.clone(),
        updated_at: now,
    };
    emu.db
        .insert_subscription("infermedica", sub.clone())
        .await?;
    Ok(Reply::json(200, config_json(&sub, true)))
}

async fn update(emu: &Emulator, req: &ApiRequest, id: &str) -> anyhow::Result<Reply> {
    let Some(mut sub) = emu.db.subscription("infermedica", id).await? else {
        return Ok(not_found(id));
    };
    let fields = match read_fields(emu, req, false) {
        Ok(fields) => fields,
        Err(reply) => return Ok(reply),
    };
    let token_set = fields.secret.is_some();
    sub.apply(fields, format_time(&Utc::now()));
    emu.db.update_subscription(sub.clone()).await?;
    Ok(Reply::json(200, config_json(&sub, token_set)))
}
