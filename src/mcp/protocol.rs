//! The Model Context Protocol's wire format as webhook-dev serves it: JSON-RPC 2.0 messages, one
//! per line on stdin and stdout (the MCP stdio transport).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The protocol versions this server speaks, newest first.
pub const PROTOCOL_VERSIONS: &[&str] = &["2025-06-18", "2025-03-26", "2024-11-05"];

/// One incoming message: a request (with `id`) or a notification (without).
#[derive(Debug, Deserialize)]
pub struct Incoming {
    /// Always "2.0".
    pub jsonrpc: String,
    /// Present on requests; answered with the same id.
    #[serde(default)]
    pub id: Option<Value>,
    /// The method called.
    pub method: String,
    /// The method's parameters.
    #[serde(default)]
    pub params: Value,
}

/// A JSON-RPC error object.
#[derive(Debug, Serialize, PartialEq)]
pub struct RpcError {
    /// The JSON-RPC error code.
    pub code: i64,
    /// What went wrong, in words.
    pub message: String,
}

impl RpcError {
    /// -32700: the line is not JSON.
    pub fn parse(detail: impl std::fmt::Display) -> Self {
        RpcError {
            code: -32700,
            message: format!("not a JSON-RPC message: {detail}"),
        }
    }

    /// -32600: JSON, but not a JSON-RPC 2.0 request.
    pub fn invalid_request(detail: impl Into<String>) -> Self {
        RpcError {
            code: -32600,
            message: detail.into(),
        }
    }

    /// -32601: a method this server does not have.
    pub fn no_method(method: &str) -> Self {
        RpcError {
            code: -32601,
            message: format!("no method {method:?}"),
        }
    }

    /// -32602: parameters that do not fit the method.
    pub fn invalid_params(detail: impl Into<String>) -> Self {
        RpcError {
            code: -32602,
            message: detail.into(),
        }
    }
}

/// The line answering request `id` with `result`.
pub fn result_line(id: &Value, result: Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string()
}

/// The line answering request `id` (null when it could not be read) with `error`.
pub fn error_line(id: &Value, error: RpcError) -> String {
    json!({"jsonrpc": "2.0", "id": id, "error": error}).to_string()
}

/// The version to answer `initialize` with: the client's when this server speaks it, else the
/// newest this server speaks (the client then decides whether to go on).
pub fn negotiate(requested: Option<&str>) -> &'static str {
    PROTOCOL_VERSIONS
        .iter()
        .find(|v| Some(**v) == requested)
        .copied()
        .unwrap_or(PROTOCOL_VERSIONS[0])
}
