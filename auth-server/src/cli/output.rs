//! What the admin commands print: with `--json` the API's JSON (machine output, nothing
//! else on standard output); otherwise a table for listings and `key: value` lines for
//! one object. Progress and errors go to standard error.

use comfy_table::{Table, presets};
use serde_json::Value;

/// How to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Output {
    /// Machine output: the API's JSON.
    pub json: bool,
}

impl Output {
    /// Print `value` as JSON, or as `human` renders it.
    pub fn print(&self, value: &Value, human: impl FnOnce(&Value) -> String) {
        let text = if self.json { json(value) } else { human(value) };
        if !text.is_empty() {
            println!("{}", text.trim_end());
        }
    }
}

/// Pretty JSON (an empty answer prints nothing).
pub fn json(value: &Value) -> String {
    if value.is_null() {
        return String::new();
    }
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// A scalar as a cell: strings bare, `null` empty, arrays of scalars comma-joined, other
/// values as compact JSON.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) if a.iter().all(|x| !x.is_array() && !x.is_object()) => {
            a.iter().map(cell).collect::<Vec<_>>().join(",")
        }
        other => other.to_string(),
    }
}

/// A whitespace-aligned table with upper-case headers.
pub fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut t = Table::new();
    t.load_style(presets::NOTHING)
        .set_header(headers.iter().map(|h| h.to_uppercase()))
        .add_rows(rows);
    t.lines()
        // The preset pads every cell by one space: drop the first column's left padding.
        .map(|l| l.strip_prefix(' ').unwrap_or(&l).trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The rows of `items` with the given JSON fields (`actor.client_id` reaches inside).
pub fn rows(items: &[Value], fields: &[&str]) -> Vec<Vec<String>> {
    items
        .iter()
        .map(|it| {
            fields
                .iter()
                .map(|f| {
                    let v = f.split('.').try_fold(it, |v, k| v.get(k));
                    v.map(cell).unwrap_or_default()
                })
                .collect()
        })
        .collect()
}

/// A listing `{items, next}` as a table of `fields`, with the next cursor after it.
pub fn listing(value: &Value, fields: &[&str]) -> String {
    let items = value
        .get("items")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if items.is_empty() {
        return "(none)".to_owned();
    }
    let mut out = table(fields, rows(items, fields));
    if let Some(next) = value.get("next").and_then(Value::as_str) {
        out.push_str(&format!("\n(more: --after {next})"));
    }
    out
}

/// Any answer, for a human: a listing as a table of its items' scalar fields, an object
/// as `key: value` lines, nothing for an empty answer.
pub fn generic(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Object(o) if o.get("items").is_some_and(Value::is_array) => {
            let fields: Vec<&str> = o
                .get("items")
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(Value::as_object)
                .map(|first| {
                    first
                        .iter()
                        .filter(|(_, v)| !v.is_object())
                        .map(|(k, _)| k.as_str())
                        .collect()
                })
                .unwrap_or_default();
            listing(value, &fields)
        }
        Value::Object(_) => summary(value),
        Value::Array(a) => {
            let list = serde_json::json!({"items": a});
            generic(&list)
        }
        other => cell(other),
    }
}

/// An object as `key: value` lines (nested values as compact JSON).
pub fn summary(value: &Value) -> String {
    match value.as_object() {
        Some(o) => o
            .iter()
            .map(|(k, v)| format!("{k}: {}", cell(v)))
            .collect::<Vec<_>>()
            .join("\n"),
        None => cell(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_listing_is_a_table_with_the_cursor_after_it() {
        let v = json!({"items": [{"slug": "acme", "name": "Acme Corp"}, {"slug": "b", "name": null}], "next": "b"});
        let t = listing(&v, &["slug", "name"]);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("SLUG"), "{t}");
        assert!(
            lines[1].contains("acme") && lines[1].contains("Acme Corp"),
            "{t}"
        );
        assert!(lines[3].contains("--after b"), "{t}");
    }

    #[test]
    fn cells_flatten_lists_and_reach_nested_fields() {
        let items = [json!({"grant_types": ["a", "b"], "actor": {"client_id": "cli"}})];
        assert_eq!(
            rows(&items, &["grant_types", "actor.client_id", "missing"]),
            vec![vec!["a,b".to_owned(), "cli".to_owned(), String::new()]]
        );
    }

    #[test]
    fn an_object_is_key_value_lines_and_an_empty_answer_nothing() {
        assert_eq!(generic(&json!({"a": 1, "b": "x"})), "a: 1\nb: x".to_owned());
        assert_eq!(generic(&Value::Null), "");
        assert_eq!(json(&Value::Null), "");
    }
}
