//! The connection forms as data: one table of fields ([`FIELDS`]) drives the three
//! create forms, the edit form and the JSON sent to the admin API, so a setting the API
//! accepts is either in every form of its kind or in none; and the conversions between
//! form text and API JSON (pure, unit-tested here).

use super::super::Form;
use serde_json::{Map, Value, json};

/// The kinds, with the id prefix of their create form and its heading.
pub(super) const KINDS: [(&str, &str, &str); 3] = [
    ("ldap", "ldap", "Add an LDAP directory"),
    ("active_directory", "ad", "Add an Active Directory"),
    ("oidc", "oidc", "Add an upstream OpenID Connect provider"),
];

pub(super) const LDAP: u8 = 1;
pub(super) const AD: u8 = 2;
pub(super) const OIDC: u8 = 4;
pub(super) const DIR: u8 = LDAP | AD;
pub(super) const ALL: u8 = DIR | OIDC;

/// How a setting is entered and sent.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Input {
    /// One line of text.
    Text,
    /// One line, `type="url"`.
    Url,
    /// A whole number.
    Number,
    /// Multi-line text (PEM).
    Pem,
    /// One value per line → array.
    Lines,
    /// Space-separated values → array.
    Words,
    /// `key=value` per line → object.
    Map,
    /// JSON text → any JSON value.
    Json,
    /// A checkbox: `true`, or absent.
    Check,
    /// Default / yes / no → absent, `true`, `false`.
    Tri,
}

/// One setting of a form. `key` is the API member; `groups.x` is the member `x` of the
/// `groups` object.
pub(super) struct Field {
    pub(super) key: &'static str,
    pub(super) label: &'static str,
    pub(super) input: Input,
    pub(super) kinds: u8,
    pub(super) required: bool,
    pub(super) placeholder: &'static str,
}

const fn f(key: &'static str, label: &'static str, input: Input, kinds: u8) -> Field {
    Field {
        key,
        label,
        input,
        kinds,
        required: false,
        placeholder: "",
    }
}

const fn req(key: &'static str, label: &'static str, input: Input, kinds: u8) -> Field {
    Field {
        required: true,
        ..f(key, label, input, kinds)
    }
}

const fn ph(field: Field, placeholder: &'static str) -> Field {
    Field {
        placeholder,
        ..field
    }
}

pub(super) const FIELDS: &[Field] = &[
    req("name", "Name", Input::Text, ALL),
    ph(
        req("url", "URL (ldap:// or ldaps://)", Input::Url, DIR),
        "ldaps://ldap.example.com",
    ),
    f("start_tls", "StartTLS on an ldap:// URL", Input::Check, DIR),
    ph(
        req("issuer", "Issuer URL", Input::Url, OIDC),
        "https://idp.example.com",
    ),
    req("client_id", "Client id at the provider", Input::Text, OIDC),
    req("bind_dn", "Service account DN", Input::Text, DIR),
    req("user_base_dn", "User base DN", Input::Text, DIR),
    f(
        "user_filter",
        "User filter ({username} is escaped by the server)",
        Input::Text,
        DIR,
    ),
    f(
        "domain",
        "NetBIOS domain (CORP in CORP\\alice)",
        Input::Text,
        AD,
    ),
    f(
        "upn_suffix",
        "UPN suffix (corp.example in alice@corp.example)",
        Input::Text,
        AD,
    ),
    f(
        "id_attribute",
        "Stable id attribute (default entryUUID, AD objectGUID)",
        Input::Text,
        DIR,
    ),
    f(
        "attributes",
        "User attributes (one per line: attribute=LDAP attribute)",
        Input::Map,
        DIR,
    ),
    ph(
        f(
            "scopes",
            "Scopes (space-separated; openid is always asked)",
            Input::Words,
            OIDC,
        ),
        "profile email",
    ),
    f(
        "claims",
        "User attributes (one per line: attribute=claim)",
        Input::Map,
        OIDC,
    ),
    f("groups_claim", "Groups claim", Input::Text, OIDC),
    f(
        "mfa_amr_values",
        "amr values counted as a second factor (space-separated)",
        Input::Words,
        OIDC,
    ),
    f(
        "trust_upstream_mfa",
        "Upstream MFA satisfies the 2FA policy",
        Input::Tri,
        OIDC,
    ),
    f(
        "groups.base_dn",
        "Group base DN (optional)",
        Input::Text,
        DIR,
    ),
    f("groups.filter", "Group object filter", Input::Text, DIR),
    ph(
        f(
            "groups.member_attribute",
            "Membership attribute (member, uniqueMember or memberUid)",
            Input::Text,
            DIR,
        ),
        "member",
    ),
    f("groups.use_member_of", "Read memberOf", Input::Tri, DIR),
    f("groups.nested", "Resolve nested groups", Input::Tri, DIR),
    f(
        "group_mappings",
        "Group mappings (JSON: [{\"directory_group\", \"workspace\", \"group\"}])",
        Input::Json,
        ALL,
    ),
    f(
        "domains",
        "E-mail domains claimed on the login form (one per line)",
        Input::Lines,
        ALL,
    ),
    f(
        "username_patterns",
        "Login-name patterns claimed (one per line, * wildcard)",
        Input::Lines,
        ALL,
    ),
    f(
        "ca_pem",
        "CA certificates (PEM, optional; replaces the system roots)",
        Input::Pem,
        ALL,
    ),
    f(
        "timeout_secs",
        "Timeout (seconds, 1-30)",
        Input::Number,
        DIR,
    ),
    f("pool_size", "Pooled connections (1-32)", Input::Number, DIR),
    f(
        "account_recheck_secs",
        "Account state trusted on refresh (seconds, 0-3600)",
        Input::Number,
        DIR,
    ),
];

pub(super) fn kind_bit(kind: &str) -> u8 {
    match kind {
        "ldap" => LDAP,
        "active_directory" => AD,
        "oidc" => OIDC,
        _ => 0,
    }
}

/// The member holding the kind's secret, and its label.
pub(super) fn secret_of(kind: &str) -> (&'static str, &'static str) {
    if kind == "oidc" {
        ("client_secret", "Client secret (write-only)")
    } else {
        ("bind_password", "Service account password (write-only)")
    }
}

/// The current value of `key` in a connection (or a refused draft).
pub(super) fn current<'a>(c: &'a Value, key: &str) -> &'a Value {
    match key.split_once('.') {
        Some((outer, inner)) => &c[outer][inner],
        None => &c[key],
    }
}

/// A JSON value as the text of its input.
pub(super) fn shown(v: &Value, input: Input) -> String {
    let strings = |sep: &str| {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(sep)
            })
            .unwrap_or_default()
    };
    match (input, v) {
        (_, Value::Null) => String::new(),
        (Input::Lines, _) => strings("\n"),
        (Input::Words, _) => strings(" "),
        (Input::Map, Value::Object(m)) => m
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join("\n"),
        (Input::Json, Value::Array(a)) if a.is_empty() => String::new(),
        (Input::Json, _) => serde_json::to_string_pretty(v).unwrap_or_default(),
        (_, Value::String(s)) => s.clone(),
        (_, other) => other.to_string(),
    }
}

/// The form value of `field` as JSON; `None` when left empty. A value the API would
/// refuse (a number that is not one, JSON that does not parse) is sent as the text, so
/// the API's error names the field.
fn sent(form: &Form, field: &Field) -> Option<Value> {
    let raw = form.get(field.key);
    match field.input {
        Input::Check => (raw == "true").then_some(Value::Bool(true)),
        Input::Tri => match raw {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        _ if raw.is_empty() => None,
        Input::Text | Input::Url | Input::Pem => Some(raw.into()),
        Input::Number => Some(raw.parse::<u64>().map_or_else(|_| raw.into(), Value::from)),
        Input::Lines => Some(json!(form.lines(field.key))),
        Input::Words => Some(json!(raw.split_whitespace().collect::<Vec<_>>())),
        Input::Map => Some(Value::Object(
            form.lines(field.key)
                .iter()
                .map(|l| {
                    let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
                    (k.trim().to_owned(), Value::from(v.trim()))
                })
                .collect(),
        )),
        Input::Json => Some(serde_json::from_str(raw).unwrap_or_else(|_| raw.into())),
    }
}

/// The API body of a form of `kind`. Creating, empty settings are left out; editing,
/// they are `null` (JSON merge patch: removed). An empty secret is always left out (on
/// edit: kept).
pub(super) fn body_of(form: &Form, kind: &str, creating: bool) -> Value {
    let bit = kind_bit(kind);
    let mut body = Map::new();
    let mut groups = Map::new();
    for field in FIELDS.iter().filter(|f| f.kinds & bit != 0) {
        let v = sent(form, field);
        // An unchecked StartTLS is `false` when editing, not a removal.
        let v = match (v, field.input, creating) {
            (None, Input::Check, false) => Some(Value::Bool(false)),
            (v, _, _) => v,
        };
        match field.key.split_once('.') {
            Some((_, inner)) => {
                if let Some(v) = v {
                    groups.insert(inner.to_owned(), v);
                }
            }
            None => {
                if let Some(v) = v {
                    body.insert(field.key.to_owned(), v);
                } else if !creating {
                    body.insert(field.key.to_owned(), Value::Null);
                }
            }
        }
    }
    if !groups.is_empty() {
        body.insert("groups".into(), Value::Object(groups));
    } else if !creating && bit & DIR != 0 {
        body.insert("groups".into(), Value::Null);
    }
    let (secret, _) = secret_of(kind);
    if !form.get(secret).is_empty() {
        body.insert(secret.into(), form.get(secret).into());
    }
    if creating {
        body.insert("kind".into(), kind.into());
    } else {
        body.insert("enabled".into(), (form.get("enabled") == "true").into());
    }
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Form {
        Form(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn a_create_body_has_only_the_kinds_filled_settings() {
        let f = form(&[
            ("name", "corp"),
            ("url", "ldap://dc.corp.example"),
            ("start_tls", "true"),
            ("bind_dn", "CN=svc"),
            ("bind_password", "pw"),
            ("user_base_dn", "DC=corp"),
            ("domain", "CORP"),
            ("issuer", "https://ignored.example"),
            ("groups.base_dn", "OU=groups"),
            ("groups.nested", "false"),
            ("timeout_secs", "7"),
            ("domains", "corp.example\n\nother.example"),
            ("attributes", "email = mail\nname=displayName"),
        ]);
        let b = body_of(&f, "active_directory", true);
        assert_eq!(
            b,
            json!({"name": "corp", "kind": "active_directory", "url": "ldap://dc.corp.example",
                "start_tls": true, "bind_dn": "CN=svc", "bind_password": "pw", "user_base_dn": "DC=corp",
                "domain": "CORP", "groups": {"base_dn": "OU=groups", "nested": false}, "timeout_secs": 7,
                "domains": ["corp.example", "other.example"],
                "attributes": {"email": "mail", "name": "displayName"}})
        );
    }

    #[test]
    fn an_edit_body_removes_emptied_settings_and_keeps_a_blank_secret() {
        let f = form(&[
            ("name", "up"),
            ("issuer", "https://idp.example"),
            ("client_id", "as"),
            ("client_secret", ""),
            ("scopes", "profile  email"),
            ("trust_upstream_mfa", "false"),
        ]);
        let b = body_of(&f, "oidc", false);
        assert!(b.get("client_secret").is_none(), "{b}");
        assert_eq!(b["scopes"], json!(["profile", "email"]));
        assert_eq!(b["trust_upstream_mfa"], false);
        assert_eq!(b["groups_claim"], Value::Null);
        assert_eq!(b["enabled"], false);
        assert!(b.get("kind").is_none() && b.get("url").is_none(), "{b}");
    }

    #[test]
    fn unparsable_numbers_and_json_reach_the_api_as_text_to_be_named() {
        let f = form(&[("timeout_secs", "soon"), ("group_mappings", "[oops")]);
        let b = body_of(&f, "ldap", true);
        assert_eq!(b["timeout_secs"], "soon");
        assert_eq!(b["group_mappings"], "[oops");
    }

    #[test]
    fn values_show_as_their_inputs_text() {
        assert_eq!(shown(&json!(["a", "b"]), Input::Words), "a b");
        assert_eq!(shown(&json!({"email": "mail"}), Input::Map), "email=mail");
        assert_eq!(shown(&json!(5), Input::Number), "5");
        assert_eq!(shown(&json!([]), Input::Json), "");
        assert_eq!(shown(&Value::Null, Input::Text), "");
    }
}
