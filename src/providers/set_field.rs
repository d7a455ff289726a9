//! `--set PATH=VALUE` for `trigger`.

use serde_json::{Map, Value};

use super::ProviderError;

/// Apply `--set data.field=value`: the path is dotted (`data.urls.0` indexes an array; a path
/// starting with `/` is a JSON pointer instead), missing objects on the way are created, and the
/// value is parsed as JSON if it parses (`true`, `42`, `{"a":1}`, `"quoted"`), else taken as a
/// string.
pub(crate) fn set_field(value: &mut Value, assignment: &str) -> Result<(), ProviderError> {
    let fail = |problem: String| ProviderError::Assignment {
        assignment: assignment.to_owned(),
        problem,
    };
    let (path, text) = assignment
        .split_once('=')
        .ok_or_else(|| fail("expected PATH=VALUE, such as data.study_id=stu_...".to_owned()))?;
    let segments: Vec<String> = match path.strip_prefix('/') {
        Some(pointer) => pointer
            .split('/')
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect(),
        None => path.trim().split('.').map(str::to_owned).collect(),
    };
    if segments.iter().any(String::is_empty) {
        return Err(fail(format!("the path {path:?} has an empty segment")));
    }
    let new = serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()));

    let mut slot = value;
    let mut walked = String::new();
    for segment in &segments {
        if slot.is_null() {
            *slot = Value::Object(Map::new());
        }
        slot = match slot {
            Value::Object(map) => map.entry(segment.clone()).or_insert(Value::Null),
            Value::Array(items) => {
                let len = items.len();
                let index = segment.parse::<usize>().map_err(|_| {
                    fail(format!(
                        "{} is an array; {segment:?} is not an index",
                        shown(&walked)
                    ))
                })?;
                if index == len {
                    items.push(Value::Null);
                }
                items.get_mut(index).ok_or_else(|| {
                    fail(format!(
                        "index {index} is out of range: {} has {len} items",
                        shown(&walked)
                    ))
                })?
            }
            other => {
                return Err(fail(format!(
                    "{} is {}, not an object or array",
                    shown(&walked),
                    kind(other)
                )))
            }
        };
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(segment);
    }
    *slot = new;
    Ok(())
}

fn shown(walked: &str) -> &str {
    if walked.is_empty() {
        "the payload"
    } else {
        walked
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nested_paths_take_json_or_text() {
        let mut v = json!({"data": {"study_id": "stu_old", "urls": ["a"]}});
        set_field(&mut v, "data.study_id=stu_new").unwrap();
        set_field(&mut v, "data.is_critical=true").unwrap();
        set_field(&mut v, "data.count=42").unwrap();
        set_field(&mut v, r#"data.extra={"k":[1,2]}"#).unwrap();
        set_field(&mut v, r#"data.quoted="true""#).unwrap();
        set_field(&mut v, "data.text=a=b c").unwrap();
        set_field(&mut v, "data.urls.0=https://x/1").unwrap();
        set_field(&mut v, "data.urls.1=https://x/2").unwrap();
        set_field(&mut v, "new.deep.field=007").unwrap();
        set_field(&mut v, "/data/a~1b=1").unwrap();
        assert_eq!(
            v,
            json!({
                "data": {
                    "study_id": "stu_new", "urls": ["https://x/1", "https://x/2"],
                    "is_critical": true, "count": 42, "extra": {"k": [1, 2]},
                    "quoted": "true", "text": "a=b c", "a/b": 1
                },
                "new": {"deep": {"field": "007"}}
            })
        );
    }

    #[test]
    fn empty_value_is_an_empty_string() {
        let mut v = json!({});
        set_field(&mut v, "plain_text=").unwrap();
        assert_eq!(v, json!({"plain_text": ""}));
    }

    #[test]
    fn bad_assignments_say_why() {
        let mut v = json!({"data": {"id": "x", "urls": []}});
        let err = |v: &mut Value, a: &str| set_field(v, a).unwrap_err().to_string();
        assert!(err(&mut v, "data.id").contains("PATH=VALUE"));
        assert!(err(&mut v, "data..id=1").contains("empty segment"));
        assert!(err(&mut v, "data.id.x=1").contains("data.id is a string"));
        assert!(err(&mut v, "data.urls.5=1").contains("out of range: data.urls has 0 items"));
        assert!(err(&mut v, "data.urls.x=1").contains("not an index"));
        assert_eq!(v, json!({"data": {"id": "x", "urls": []}}));
    }
}
