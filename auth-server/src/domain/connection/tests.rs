//! Parsing and validation of connection input: every error names its member.

use super::*;

fn input(json: serde_json::Value) -> Result<(), ValidationError> {
    let serde_json::Value::Object(m) = json else {
        panic!("not an object")
    };
    validate(&ConnectionInput::from_json(m)?, false)
}

fn ldap() -> serde_json::Value {
    serde_json::json!({"name": "corp", "kind": "ldap", "url": "ldap://127.0.0.1:389",
        "bind_dn": "cn=svc,dc=corp", "bind_password": "s3cret", "user_base_dn": "ou=people,dc=corp"})
}

#[test]
fn a_complete_ldap_connection_is_valid() {
    assert_eq!(input(ldap()), Ok(()));
    let mut env = ldap();
    env["bind_password"] = serde_json::json!({"env": "CORP_LDAP_PASSWORD"});
    assert_eq!(input(env), Ok(()));
}

#[test]
fn every_bad_directory_setting_names_its_field() {
    let cases = [
        ("url", serde_json::json!("http://x")),
        ("bind_password", serde_json::json!("   ")),
        ("bind_password", serde_json::json!({"env": "1BAD"})),
        ("user_filter", serde_json::json!("uid={username}")),
        ("user_filter", serde_json::json!("(uid=alice)")),
        ("issuer", serde_json::json!("https://idp.example")),
        ("timeout_secs", serde_json::json!(0)),
        ("name", serde_json::json!("Corp LDAP")),
    ];
    for (field, value) in cases {
        let mut body = ldap();
        body[field] = value;
        let err = input(body).unwrap_err();
        assert_eq!(err.field, field, "{err}");
    }
    let mut no_pw = ldap();
    no_pw.as_object_mut().unwrap().remove("bind_password");
    assert_eq!(input(no_pw).unwrap_err().field, "bind_password");
    let mut tls = ldap();
    tls["url"] = "ldaps://h".into();
    tls["start_tls"] = true.into();
    assert_eq!(input(tls).unwrap_err().field, "start_tls");
}

#[test]
fn unknown_members_are_refused() {
    let mut body = ldap();
    body["bind_passwrd"] = "x".into();
    assert_eq!(input(body).unwrap_err().field, "bind_passwrd");
    let mut nested = ldap();
    nested["groups"] = serde_json::json!({"nestd": true});
    assert_eq!(input(nested).unwrap_err().field, "groups.nestd");
    let mut kind = ldap();
    kind["kind"] = "kerberos".into();
    assert_eq!(input(kind).unwrap_err().field, "kind");
}

#[test]
fn oidc_connections_need_an_https_issuer_and_a_secret() {
    let ok = serde_json::json!({"name": "okta", "kind": "oidc", "issuer": "https://idp.example",
        "client_id": "c", "client_secret": "s"});
    assert_eq!(input(ok.clone()), Ok(()));
    let mut plain = ok.clone();
    plain["issuer"] = "http://idp.example".into();
    assert_eq!(input(plain).unwrap_err().field, "issuer");
    let mut loopback = ok.clone();
    loopback["issuer"] = "http://127.0.0.1:4000".into();
    assert_eq!(input(loopback), Ok(()));
    let mut bind = ok;
    bind["bind_dn"] = "cn=x".into();
    assert_eq!(input(bind).unwrap_err().field, "bind_dn");
}
