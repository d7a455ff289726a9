//! `webhook-dev mcp`: a Model Context Protocol server over stdio, so a coding agent can read and
//! act on the webhooks captured on this machine (see [`tools`] for what it offers).
//!
//! One JSON-RPC 2.0 message per line in and out; logs go to stderr, never to stdout.

pub mod protocol;
pub mod tools;

use std::io::{BufRead, Write};
use std::path::Path;

use serde_json::{json, Value};

use protocol::{error_line, negotiate, result_line, Incoming, RpcError};

/// Serves MCP on `input`/`output` until `input` ends.
pub fn serve(store_dir: &Path, input: impl BufRead, mut output: impl Write) -> anyhow::Result<()> {
    for line in input.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        if let Some(answer) = handle(store_dir, &line) {
            writeln!(output, "{answer}")?;
            output.flush()?;
        }
    }
    Ok(())
}

/// The answer line to one incoming line, or `None` for a notification.
pub fn handle(store_dir: &Path, line: &str) -> Option<String> {
    let value: Value = match serde_json::from_str(line) {
        Ok(value) => value,
        Err(err) => return Some(error_line(&Value::Null, RpcError::parse(err))),
    };
    let id = value.get("id").cloned().unwrap_or(Value::Null);
    let message: Incoming = match serde_json::from_value(value) {
        Ok(message) => message,
        Err(err) => return Some(error_line(&id, RpcError::invalid_request(err.to_string()))),
    };
    if message.jsonrpc != "2.0" {
        return Some(error_line(
            &id,
            RpcError::invalid_request("jsonrpc must be \"2.0\""),
        ));
    }
    let id = message.id.clone()?;
    Some(match dispatch(store_dir, &message) {
        Ok(result) => result_line(&id, result),
        Err(error) => error_line(&id, error),
    })
}

fn dispatch(store_dir: &Path, message: &Incoming) -> Result<Value, RpcError> {
    match message.method.as_str() {
        "initialize" => {
            let requested = message
                .params
                .get("protocolVersion")
                .and_then(Value::as_str);
            Ok(json!({
                "protocolVersion": negotiate(requested),
                "capabilities": {"tools": {"listChanged": false}},
                "serverInfo": {"name": "webhook-dev", "version": env!("CARGO_PKG_VERSION")},
                "instructions": "Webhooks captured by `webhook-dev listen` on this machine: list and show them, diff two, verify a signature, replay one to a handler, trigger a provider's event, read the delivery log. Pass secrets as env:VAR or file:PATH."
            }))
        }
        "ping" => Ok(json!({})),
        "tools/list" => Ok(json!({"tools": tools::list()})),
        "tools/call" => {
            let name = message
                .params
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| RpcError::invalid_params("tools/call needs a tool name"))?;
            let arguments = message
                .params
                .get("arguments")
                .cloned()
                .unwrap_or(json!({}));
            if !arguments.is_object() {
                return Err(RpcError::invalid_params("arguments must be an object"));
            }
            let result =
                tools::call(store_dir, name, &arguments).map_err(RpcError::invalid_params)?;
            Ok(json!({
                "content": [{"type": "text", "text": result.text}],
                "isError": result.is_error
            }))
        }
        other => Err(RpcError::no_method(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(line: &str) -> Value {
        serde_json::from_str(&handle(Path::new("/nonexistent"), line).unwrap()).unwrap()
    }

    #[test]
    fn initialize_negotiates_the_version() {
        let answer = ask(
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26"}}"#,
        );
        assert_eq!(answer["result"]["protocolVersion"], "2025-03-26");
        assert_eq!(answer["result"]["serverInfo"]["name"], "webhook-dev");
        let answer = ask(
            r#"{"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"1999-01-01"}}"#,
        );
        assert_eq!(
            answer["result"]["protocolVersion"],
            protocol::PROTOCOL_VERSIONS[0]
        );
    }

    #[test]
    fn bad_messages_get_json_rpc_errors_and_notifications_no_answer() {
        assert_eq!(ask("{not json")["error"]["code"], -32700);
        assert_eq!(
            ask(r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#)["error"]["code"],
            -32600
        );
        assert_eq!(
            ask(r#"{"jsonrpc":"2.0","id":"a","method":"nope"}"#)["error"]["code"],
            -32601
        );
        let no_tool =
            ask(r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"nope"}}"#);
        assert_eq!(no_tool["error"]["code"], -32602);
        assert!(handle(
            Path::new("/x"),
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#
        )
        .is_none());
    }

    #[test]
    fn every_tool_has_a_name_description_and_object_schema() {
        let tools = tools::list();
        let tools = tools.as_array().unwrap();
        assert!(tools.len() >= 8);
        for tool in tools {
            assert!(
                tool["name"].is_string() && tool["description"].is_string(),
                "{tool}"
            );
            assert_eq!(tool["inputSchema"]["type"], "object", "{tool}");
        }
    }
}
