//! RFC 4515 escaping of login names and DNs in LDAP filters: whatever a user types, the
//! filter holds it as one literal assertion value — no unescaped `*`, `(`, `)`, `\` or
//! NUL — and unescaping gives back exactly what was typed.
#![no_main]

use auth_server::directory::rules::{member_filter, user_filter};
use libfuzzer_sys::fuzz_target;

fn unescape(value: &str) -> Vec<u8> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("escape is ASCII hex");
            out.push(u8::from_str_radix(hex, 16).expect("escape is hex"));
            i += 3;
        } else {
            assert!(
                !matches!(bytes[i], b'*' | b'(' | b')' | 0),
                "unescaped special in {value:?}"
            );
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

fuzz_target!(|login: &str| {
    let filter = user_filter("(uid={username})", login);
    let value = filter
        .strip_prefix("(uid=")
        .and_then(|f| f.strip_suffix(')'))
        .expect("the template's shape survives");
    assert_eq!(unescape(value), login.as_bytes());
    let filter = member_filter("(objectClass=group)", "member", login);
    let value = filter
        .strip_prefix("(&(objectClass=group)(member=")
        .and_then(|f| f.strip_suffix("))"))
        .expect("the filter's shape survives");
    assert_eq!(unescape(value), login.as_bytes());
});
