//! Avala's webhook API as the `avala` SDK (0.10.0) calls it: `X-Avala-Api-Key`, DRF-style
//! errors (`detail`, or one list of messages per field) with the statuses the SDK maps to its
//! exceptions (400 `ValidationError`, 401 `AuthenticationError`, 404 `NotFoundError`), cursor
//! pages `{results, next, previous}`.

use bytes::Bytes;
use chrono::Utc;
use hyper::Method;
use rand::Rng;
use serde_json::{json, Map, Value};

use super::db::{Cursor, Page};
use super::deliveries::EmulatedDelivery;
use super::http::{is_http_url, ApiRequest, Reply};
use super::subscriptions::{Changes, Subscription};
use super::Emulator;
use crate::delivery::DeliveryStatus;
use crate::model::format_time;
use crate::signature::Secret;

/// Where the SDK's paths start (`AVALA_BASE_URL=http://127.0.0.1:PORT/api/v1`).
pub const BASE_PATH: &str = "/api/v1";
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;

fn detail(status: u16, message: impl Into<String>) -> Reply {
    Reply::json(status, json!({"detail": message.into()}))
}

fn not_found(what: &str, id: &str) -> Reply {
    detail(404, format!("Not found: no {what} {id:?}."))
}

/// A 400 in DRF's shape, one list of messages per field, plus `detail` saying it all in one
/// line (the SDK makes `detail` its exception's message).
fn invalid(errors: Vec<(&str, String)>) -> Reply {
    let mut body = Map::new();
    for (field, message) in &errors {
        body.entry(field.to_string())
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
            .expect("each field holds a list")
            .push(Value::String(message.clone()));
    }
    let summary: Vec<String> = errors.iter().map(|(f, m)| format!("{f}: {m}")).collect();
    body.insert("detail".into(), Value::String(summary.join(" ")));
    Reply::json(400, Value::Object(body))
}

enum Route<'a> {
    Webhooks,
    Webhook(&'a str),
    Test(&'a str),
    Deliveries,
    Delivery(&'a str),
}

fn route(path: &str) -> Option<Route<'_>> {
    let rest = path.strip_prefix(BASE_PATH)?.strip_prefix('/')?;
    let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    match parts.as_slice() {
        ["webhooks"] => Some(Route::Webhooks),
        ["webhooks", uid] if !uid.is_empty() => Some(Route::Webhook(uid)),
        ["webhooks", uid, "test"] if !uid.is_empty() => Some(Route::Test(uid)),
        ["webhook-deliveries"] => Some(Route::Deliveries),
        ["webhook-deliveries", uid] if !uid.is_empty() => Some(Route::Delivery(uid)),
        _ => None,
    }
}

fn method_not_allowed(method: &Method) -> Reply {
    detail(405, format!("Method \"{method}\" not allowed."))
}

/// Answers one request to Avala's API.
pub async fn handle(
    emu: &Emulator,
    req: &ApiRequest,
    fallback_host: &str,
) -> anyhow::Result<Reply> {
    let Some(route) = route(&req.path) else {
        return Ok(detail(
            404,
            format!(
                "Not found: this Avala emulator serves {BASE_PATH}/webhooks/ and {BASE_PATH}/webhook-deliveries/."
            ),
        ));
    };
    if req
        .header("x-avala-api-key")
        .is_none_or(|key| key.trim().is_empty())
    {
        return Ok(detail(
            401,
            "Authentication credentials were not provided: send X-Avala-Api-Key (any non-empty key works here).",
        ));
    }
    let method = &req.method;
    match route {
        Route::Webhooks if method == Method::GET => list_webhooks(emu, req, fallback_host).await,
        Route::Webhooks if method == Method::POST => create(emu, req).await,
        Route::Webhook(uid) if method == Method::GET => {
            match emu.db.subscription("avala", uid).await? {
                Some(sub) => Ok(Reply::json(200, webhook_json(&sub))),
                None => Ok(not_found("webhook", uid)),
            }
        }
        Route::Webhook(uid) if method == Method::PATCH => update(emu, req, uid).await,
        Route::Webhook(uid) if method == Method::DELETE => {
            match emu.db.delete_subscription("avala", uid).await? {
                Some(_) => Ok(Reply::no_content()),
                None => Ok(not_found("webhook", uid)),
            }
        }
        Route::Test(uid) if method == Method::POST => test(emu, uid).await,
        Route::Deliveries if method == Method::GET => {
            list_deliveries(emu, req, fallback_host).await
        }
        Route::Delivery(uid) if method == Method::GET => {
            match emu.db.delivery("avala", uid).await? {
                Some(d) => {
                    let mut detail = delivery_json(&d);
                    detail["attempt_log"] = attempt_log(&emu.db.attempts(&d.id).await?);
                    Ok(Reply::json(200, detail))
                }
                None => Ok(not_found("webhook delivery", uid)),
            }
        }
        _ => Ok(method_not_allowed(method)),
    }
}

/// The `Webhook` model.
pub fn webhook_json(sub: &Subscription) -> Value {
    json!({
        "uid": sub.id,
        "target_url": sub.target_url,
        "events": sub.events,
        "is_active": sub.is_active,
        "secret": sub.secret.expose(),
        "created_at": sub.created_at,
        "updated_at": sub.updated_at,
    })
}

/// The `WebhookDelivery` model, plus `error_message`: why the last attempt failed (the SDK
/// ignores fields it does not know).
pub fn delivery_json(d: &EmulatedDelivery) -> Value {
    json!({
        "uid": d.id,
        "subscription": d.subscription,
        "event_type": d.event_type,
        "payload": serde_json::from_slice::<Value>(&d.payload).ok().filter(Value::is_object),
        "response_status": d.response_status,
        "response_body": d.response_body,
        "attempts": d.attempts,
        "next_retry_at": d.next_retry_at,
        "status": d.status.as_str(),
        "error_message": d.error_message,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
    })
}

/// Every attempt of a delivery, first first (`attempt_log`, beside the SDK's fields):
/// when, where, the handler's status or why there was none, and the stored request's id.
fn attempt_log(attempts: &[super::deliveries::AttemptRecord]) -> Value {
    attempts
        .iter()
        .map(|a| {
            json!({
                "attempt": a.number,
                "attempted_at": a.attempted_at,
                "target": a.target,
                "response_status": a.response_status,
                "error_message": a.error_message,
                "request_id": a.request_id,
            })
        })
        .collect()
}

/// Reads `limit` and `cursor`, or says what is wrong with them.
fn paging(req: &ApiRequest) -> Result<(Option<Cursor>, usize), Reply> {
    let limit = match req.query_param("limit") {
        None => DEFAULT_LIMIT,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if n > 0 => n.min(MAX_LIMIT),
            _ => {
                return Err(invalid(vec![(
                    "limit",
                    format!("{text:?} is not a positive integer."),
                )]))
            }
        },
    };
    let cursor = match req.query_param("cursor") {
        None => None,
        Some(text) => Some(Cursor::decode(&text).ok_or_else(|| detail(404, "Invalid cursor"))?),
    };
    Ok((cursor, limit))
}

fn page_json<T>(
    req: &ApiRequest,
    fallback_host: &str,
    page: Page<T>,
    limit: usize,
    item: impl Fn(&T) -> Value,
) -> Value {
    let link = |cursor: Option<Cursor>| {
        cursor.map(|c| {
            format!(
                "{}{}?cursor={}&limit={limit}",
                req.origin(fallback_host),
                req.path,
                c.encode()
            )
        })
    };
    json!({
        "next": link(page.next),
        "previous": link(page.previous),
        "results": page.items.iter().map(item).collect::<Vec<_>>(),
    })
}

async fn list_webhooks(emu: &Emulator, req: &ApiRequest, host: &str) -> anyhow::Result<Reply> {
    let (cursor, limit) = match paging(req) {
        Ok(paging) => paging,
        Err(reply) => return Ok(reply),
    };
    let page = emu.db.subscriptions_page("avala", cursor, limit).await?;
    Ok(Reply::json(
        200,
        page_json(req, host, page, limit, webhook_json),
    ))
}

async fn list_deliveries(emu: &Emulator, req: &ApiRequest, host: &str) -> anyhow::Result<Reply> {
    let (cursor, limit) = match paging(req) {
        Ok(paging) => paging,
        Err(reply) => return Ok(reply),
    };
    let page = emu.db.deliveries_page("avala", cursor, limit).await?;
    Ok(Reply::json(
        200,
        page_json(req, host, page, limit, delivery_json),
    ))
}

/// Reads the fields a create or update may set (Avala's wire names), checked before anything is
/// stored.
fn read_fields(emu: &Emulator, req: &ApiRequest, creating: bool) -> Result<Changes, Reply> {
    let body = req
        .json()
        .map_err(|e| detail(400, format!("JSON parse error - {e}")))?;
    let Value::Object(body) = body else {
        return Err(invalid(vec![(
            "non_field_errors",
            "Invalid data. Expected a dictionary (a JSON object).".into(),
        )]));
    };
    let mut errors = Vec::new();
    let mut fields = Changes::default();
    match body.get("target_url") {
        None if creating => errors.push(("target_url", "This field is required.".into())),
        None => {}
        Some(Value::String(url)) if is_http_url(url) => fields.target_url = Some(url.clone()),
        Some(other) => errors.push((
            "target_url",
            format!("Enter a valid URL: {other} is not an http:// or https:// URL."),
        )),
    }
    match body.get("events") {
        None if creating => errors.push(("events", "This field is required.".into())),
        None => {}
        Some(Value::Array(items)) if items.is_empty() => {
            errors.push(("events", "This list may not be empty.".into()))
        }
        Some(Value::Array(items)) => {
            let mut events = Vec::new();
            for item in items {
                match item.as_str() {
                    Some(name) if emu.profile.event(name).is_some() => {
                        if !events.iter().any(|e| e == name) {
                            events.push(name.to_string());
                        }
                    }
                    _ => errors.push((
                        "events",
                        format!(
                            "{item} is not a valid choice (Avala's events: {}).",
                            emu.profile
                                .events
                                .iter()
                                .map(|e| e.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )),
                }
            }
            fields.events = Some(events);
        }
        Some(other) => errors.push((
            "events",
            format!("Expected a list of event types but got {other}."),
        )),
    }
    match body.get("is_active") {
        None => {}
        Some(Value::Bool(active)) => fields.is_active = Some(*active),
        Some(other) => errors.push((
            "is_active",
            format!("Must be a valid boolean, not {other}."),
        )),
    }
    match body.get("secret") {
        None | Some(Value::Null) if creating => {}
        None => {}
        Some(Value::String(secret)) if !secret.trim().is_empty() => {
            fields.secret = Some(secret.clone())
        }
        Some(Value::String(_)) => errors.push(("secret", "This field may not be blank.".into())),
        Some(_) => errors.push(("secret", "Not a valid string.".into())),
    }
    if errors.is_empty() {
        Ok(fields)
    } else {
        Err(invalid(errors))
    }
}

fn new_secret() -> String {
    let bytes: [u8; 24] = rand::rng().random();
    format!("whsec_{}", hex::encode(bytes))
}

async fn create(emu: &Emulator, req: &ApiRequest) -> anyhow::Result<Reply> {
    let fields = match read_fields(emu, req, true) {
        Ok(fields) => fields,
        Err(reply) => return Ok(reply),
    };
    let now = format_time(&Utc::now());
    let sub = Subscription {
        id: format!("wh_{}", ulid::Ulid::new().to_string().to_ascii_lowercase()),
        target_url: fields.target_url.expect("required on create"),
        events: fields.events.expect("required on create"),
        is_active: fields.is_active.unwrap_or(true),
        secret: Secret::new(fields.secret.unwrap_or_else(new_secret)),
        created_at: now.clone(),
        updated_at: now,
    };
    emu.db.insert_subscription("avala", sub.clone()).await?;
    Ok(Reply::json(201, webhook_json(&sub)))
}

async fn update(emu: &Emulator, req: &ApiRequest, uid: &str) -> anyhow::Result<Reply> {
    let Some(mut sub) = emu.db.subscription("avala", uid).await? else {
        return Ok(not_found("webhook", uid));
    };
    let fields = match read_fields(emu, req, false) {
        Ok(fields) => fields,
        Err(reply) => return Ok(reply),
    };
    sub.apply(fields, format_time(&Utc::now()));
    emu.db.update_subscription(sub.clone()).await?;
    Ok(Reply::json(200, webhook_json(&sub)))
}

/// Sends the webhook a test event (a fresh sample of the first event it receives) and answers
/// `{success, response}` or `{success: false, error}`.
async fn test(emu: &Emulator, uid: &str) -> anyhow::Result<Reply> {
    let Some(sub) = emu.db.subscription("avala", uid).await? else {
        return Ok(not_found("webhook", uid));
    };
    let Some(event) = sub.events.first().and_then(|name| emu.profile.event(name)) else {
        return Ok(invalid(vec![(
            "events",
            "The webhook receives no event to send a test of.".into(),
        )]));
    };
    let body = Bytes::from(crate::trigger::event_body(&emu.profile, event, &[])?);
    let delivery = emu.deliverer.test(&sub, &event.name, body).await?;
    let mut answer = Map::new();
    answer.insert(
        "success".into(),
        Value::Bool(delivery.status == DeliveryStatus::Success),
    );
    answer.insert("delivery".into(), Value::String(delivery.id.clone()));
    if let Some(status) = delivery.response_status {
        answer.insert(
            "response".into(),
            json!({"status_code": status, "body": delivery.response_body}),
        );
    }
    if let Some(error) = &delivery.error_message {
        answer.insert("error".into(), Value::String(error.clone()));
    }
    Ok(Reply::json(200, Value::Object(answer)))
}
