//! Request bodies of the generic commands: a JSON file (`-f FILE`, `-` for standard input)
//! with `-s` assignments applied on top. `-s key=value` sets a string and `-s key:=JSON`
//! any JSON value (`-s disabled:=true`, `-s grant_types:='["client_credentials"]'`), the
//! convention of HTTPie; dots in the key reach into objects
//! (`-s settings.branding.primary_color=#0055aa`).

use serde_json::{Map, Value};

/// Why a body could not be built; names the offending assignment.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BodyError {
    /// `-s` without `=`.
    #[error("-s {0:?}: expected key=value or key:=JSON")]
    NoEquals(String),
    /// An empty key or key part (`a..b`, `=x`).
    #[error("-s {0:?}: empty key")]
    EmptyKey(String),
    /// `key:=` with text that is not JSON.
    #[error("-s {key:?}: the value after := is not JSON: {reason}")]
    NotJson {
        /// The key.
        key: String,
        /// serde_json's reason.
        reason: String,
    },
    /// A dotted key runs through a value that is not an object.
    #[error("-s {0:?}: a part of the key is already set to a value that is not an object")]
    NotObject(String),
    /// The file is not a JSON object, or assignments were given on top of a non-object.
    #[error("the body must be a JSON object to take -s assignments")]
    BodyNotObject,
}

/// One `-s` assignment, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// The key's parts (`settings.mfa_policy` → `["settings", "mfa_policy"]`).
    pub path: Vec<String>,
    /// The value.
    pub value: Value,
}

/// Parse `key=value` (a string) or `key:=JSON`.
pub fn parse_assignment(text: &str) -> Result<Assignment, BodyError> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| BodyError::NoEquals(text.to_owned()))?;
    let (key, value) = match key.strip_suffix(':') {
        Some(k) => {
            let v = serde_json::from_str(value).map_err(|e| BodyError::NotJson {
                key: k.to_owned(),
                reason: e.to_string(),
            })?;
            (k, v)
        }
        None => (key, Value::String(value.to_owned())),
    };
    let path: Vec<String> = key.split('.').map(str::to_owned).collect();
    if path.iter().any(String::is_empty) {
        return Err(BodyError::EmptyKey(text.to_owned()));
    }
    Ok(Assignment { path, value })
}

/// Apply assignments on top of `base` (an empty object when `None`).
pub fn build(base: Option<Value>, sets: &[String]) -> Result<Value, BodyError> {
    let mut body = base.unwrap_or_else(|| Value::Object(Map::new()));
    if sets.is_empty() {
        return Ok(body);
    }
    let Value::Object(root) = &mut body else {
        return Err(BodyError::BodyNotObject);
    };
    for text in sets {
        let a = parse_assignment(text)?;
        let mut obj = &mut *root;
        let (last, parents) = a
            .path
            .split_last()
            .ok_or(BodyError::EmptyKey(text.clone()))?;
        for part in parents {
            let slot = obj
                .entry(part.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            obj = slot
                .as_object_mut()
                .ok_or_else(|| BodyError::NotObject(text.clone()))?;
        }
        obj.insert(last.clone(), a.value);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_plain_assignment_sets_a_string_even_when_it_looks_like_a_number() {
        let b = build(None, &["name=123".into(), "slug=acme".into()]).unwrap();
        assert_eq!(b, json!({"name": "123", "slug": "acme"}));
    }

    #[test]
    fn colon_equals_takes_json() {
        let b = build(
            None,
            &[
                "disabled:=true".into(),
                "grant_types:=[\"client_credentials\"]".into(),
                "limit:=5".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            b,
            json!({"disabled": true, "grant_types": ["client_credentials"], "limit": 5})
        );
    }

    #[test]
    fn dotted_keys_reach_into_objects_and_keep_what_the_file_set() {
        let base = json!({"settings": {"mfa_policy": "optional"}, "name": "A"});
        let b = build(
            Some(base),
            &[
                "settings.branding.primary_color=#0055aa".into(),
                "name=B".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            b,
            json!({"settings": {"mfa_policy": "optional", "branding": {"primary_color": "#0055aa"}}, "name": "B"})
        );
    }

    #[test]
    fn a_value_may_contain_equals_signs() {
        let b = build(None, &["filter=(uid=x)".into()]).unwrap();
        assert_eq!(b, json!({"filter": "(uid=x)"}));
    }

    #[test]
    fn bad_assignments_are_refused_with_the_reason() {
        assert_eq!(
            build(None, &["name".into()]),
            Err(BodyError::NoEquals("name".into()))
        );
        assert_eq!(
            build(None, &["a..b=1".into()]),
            Err(BodyError::EmptyKey("a..b=1".into()))
        );
        assert!(matches!(
            build(None, &["x:=nope".into()]),
            Err(BodyError::NotJson { .. })
        ));
        assert_eq!(
            build(None, &["a=1".into(), "a.b=2".into()]),
            Err(BodyError::NotObject("a.b=2".into()))
        );
        assert_eq!(
            build(Some(json!([1])), &["a=1".into()]),
            Err(BodyError::BodyNotObject)
        );
    }
}
