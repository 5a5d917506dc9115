//! Client ID Metadata Documents: the body and caching headers a remote server chooses.
//! Never a panic; an accepted document's `client_id` is its URL, and its scope stays
//! within the subscription's policy.
#![no_main]

use auth_server::domain::Scope;
use auth_server::domain::cimd::{cache_ttl, parse_document, parse_url};
use libfuzzer_sys::fuzz_target;

const URL: &str = "https://app.example/client.json";

fuzz_target!(|input: &[u8]| {
    // First line: a Cache-Control value and a client_id URL candidate; the rest: the body.
    let (head, body) = match input.iter().position(|b| *b == b'\n') {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => (&[][..], input),
    };
    let head = String::from_utf8_lossy(head);
    let ttl = cache_ttl(Some(&head));
    assert!(
        (60..=86_400).contains(&ttl),
        "ttl {ttl} outside the floor and ceiling"
    );
    let _ = parse_url(&head, false);
    let policy = Scope::parse("mcp").unwrap();
    if let Ok((_, spec)) = parse_document(URL, body, &policy) {
        assert!(
            spec.scope.is_subset(&policy),
            "scope {} beyond policy",
            spec.scope
        );
    }
});
