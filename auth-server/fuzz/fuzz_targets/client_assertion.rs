//! `private_key_jwt` (RFC 7523): an attacker controls the whole assertion, and a client
//! registration may hold an odd JWK set. Never a panic (jsonwebtoken once sliced short
//! Ed25519 keys), and nothing unsigned or for another client verifies.
#![no_main]

use auth_server::tokens::{assertion_subject, verify_client_assertion};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    // First line: the client's JWK set; the rest: the assertion.
    let (jwks, assertion) = input.split_once('\n').unwrap_or(("{}", input));
    let _ = assertion_subject(assertion);
    let jwks: serde_json::Value = serde_json::from_str(jwks).unwrap_or_default();
    let audiences = ["https://as.example/t/acme/token".to_owned()];
    if let Ok(verified) =
        verify_client_assertion(&jwks, assertion, "client-1", &audiences, 1_700_000_000)
    {
        // Only a signature by a key of the set can get here; the fuzzer has none.
        panic!("an assertion verified without a private key: {verified:?}");
    }
});
