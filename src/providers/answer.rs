//! Checks of a handler's answer beyond its schema: fields that must echo the request (Slack's
//! `challenge`), and answers whose field names may be camelCase or snake_case (Avara's SDK fixes
//! the casing of events, not of answers).

use serde_json::{Map, Value};

/// The casing of an answer's multi-word field names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Casing {
    Camel,
    Snake,
}

impl Casing {
    pub(super) fn name(self) -> &'static str {
        match self {
            Casing::Camel => "camelCase",
            Casing::Snake => "snake_case",
        }
    }
}

/// The casing of `value`'s multi-word keys, when they use one consistently.
pub(super) fn casing(value: &Value) -> Option<Casing> {
    let (mut camel, mut snake) = (false, false);
    visit_keys(value, &mut |key| {
        snake |= key.contains('_');
        camel |= key.chars().skip(1).any(|c| c.is_ascii_uppercase());
    });
    match (camel, snake) {
        (true, false) => Some(Casing::Camel),
        (false, true) => Some(Casing::Snake),
        _ => None,
    }
}

fn visit_keys(value: &Value, visit: &mut impl FnMut(&str)) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                visit(key);
                visit_keys(item, visit);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| visit_keys(item, visit)),
        _ => {}
    }
}

/// `value` with every snake_case key written in camelCase (`media_urls` → `mediaUrls`).
pub(super) fn camel_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| (camel(key), camel_keys(item)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(camel_keys).collect()),
        other => other.clone(),
    }
}

fn camel(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' && !out.is_empty() {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Problems of fields that must repeat the request's value at the same JSON pointer.
/// An answer that is not JSON is read as the bare value (Slack accepts the challenge as text).
pub(super) fn echo_problems(
    pointers: &[String],
    request: Option<&Value>,
    answer: Option<&Value>,
    answer_text: &[u8],
    provider: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    let bare = Value::String(String::from_utf8_lossy(answer_text).trim().to_owned());
    for pointer in pointers {
        let field = pointer.trim_start_matches('/').replace('/', ".");
        let wanted = request.and_then(|r| r.pointer(pointer));
        let given = match answer {
            Some(answer) => answer.pointer(pointer),
            None => Some(&bare),
        };
        match (wanted, given) {
            (Some(wanted), Some(given)) if wanted == given => {}
            (Some(wanted), Some(given)) => out.push(format!(
                "answer's `{field}` is {}, but the request's is {}: {provider} refuses an answer that does not repeat it",
                short(given),
                short(wanted)
            )),
            (Some(wanted), None) => out.push(format!(
                "answer lacks `{field}`: {provider} expects the request's value ({}) back",
                short(wanted)
            )),
            (None, _) => {}
        }
    }
    out
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn casing_is_read_from_multi_word_keys() {
        assert_eq!(
            casing(&json!({"mediaUrls": [], "urls": []})),
            Some(Casing::Camel)
        );
        assert_eq!(
            casing(&json!({"media_urls": [{"mime_type": "x"}]})),
            Some(Casing::Snake)
        );
        assert_eq!(casing(&json!({"urls": []})), None);
        assert_eq!(casing(&json!({"media_urls": [], "fileName": 1})), None);
    }

    #[test]
    fn snake_keys_become_camel() {
        assert_eq!(
            camel_keys(&json!({"media_urls": [{"mime_type": "a", "file_name": "b"}], "urls": [1]})),
            json!({"mediaUrls": [{"mimeType": "a", "fileName": "b"}], "urls": [1]})
        );
        assert_eq!(camel("_private"), "_private");
    }

    #[test]
    fn echoes_must_repeat_the_request() {
        let request = json!({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"});
        let pointers = vec!["/challenge".to_owned()];
        let check = |answer: Option<&Value>, text: &[u8]| {
            echo_problems(&pointers, Some(&request), answer, text, "slack")
        };
        assert!(check(Some(&request), b"").is_empty());
        let bare = b"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P\n";
        assert!(check(None, bare).is_empty());
        let wrong = check(Some(&json!({"challenge": "nope"})), b"");
        assert!(
            wrong[0].starts_with("answer's `challenge` is \"nope\", but the request's is"),
            "{wrong:?}"
        );
        let none = check(Some(&json!({})), b"{}");
        assert!(none[0].starts_with("answer lacks `challenge`"), "{none:?}");
    }
}
