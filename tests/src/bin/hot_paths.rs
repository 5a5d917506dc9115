//! The pure hot paths, run a given number of times, for the instruction-count guard
//! (`tests/icount.rs` runs this under callgrind and counts only inside the `icount_*`
//! functions, so set-up such as key generation is not counted).
//!
//! `hot_paths WORKLOAD ITERATIONS` with WORKLOAD one of `jwt-verify-es256`,
//! `jwt-verify-eddsa`, `acl-1000-records`.

#[path = "../../../auth-server/benches/fixtures/mod.rs"]
mod fixtures;

use auth_server::acl::{RecordFacts, prepare};
use auth_server::tokens::{Alg, KeyRing, KeyStatus, SigningKey, TYP_ACCESS_TOKEN, generate};
use serde_json::json;
use std::hint::black_box;
use std::process::ExitCode;

const NOW: i64 = 1_800_000_000;

/// What introspection does with a JWT access token: verify signature, header and times.
#[inline(never)]
fn icount_jwt_verify(ring: &KeyRing, token: &str, iterations: u32) -> usize {
    let mut ok = 0;
    for _ in 0..iterations {
        let claims = auth_server::tokens::verify(
            black_box(ring),
            black_box(token),
            TYP_ACCESS_TOKEN,
            NOW,
            60,
        );
        ok += usize::from(claims.is_ok());
    }
    ok
}

/// What `/acl/evaluate` does once the facts are loaded: layers 1–2 once, then each record.
#[inline(never)]
fn icount_acl_batch(
    facts: &auth_server::acl::AclFacts,
    records: &[RecordFacts],
    iterations: u32,
) -> usize {
    let mut allowed = 0;
    for _ in 0..iterations {
        let prepared = prepare(black_box(facts));
        allowed += records
            .iter()
            .filter(|r| prepared.decide(Some(r)).allowed)
            .count();
    }
    allowed
}

fn jwt(alg: Alg, iterations: u32) -> usize {
    let generated = generate(alg).expect("key generation");
    let key = SigningKey::from_generated(&generated, KeyStatus::Active, None).expect("key");
    // The claims of a typical user access token.
    let claims = json!({
        "iss": "https://auth.example.com/t/acme", "sub": "0193f6a1-8b0e-7c3d-9f1a-2b3c4d5e6f70",
        "aud": ["https://api.example.com"], "client_id": "c-0193f6a1", "scope": "openid profile email",
        "iat": NOW, "exp": NOW + 300, "jti": "0193f6a1-8b0e-7c3d-9f1a-2b3c4d5e6f71",
        "amr": ["pwd"], "acr": "1fa", "auth_time": NOW - 10,
    });
    let token = auth_server::tokens::sign(&key, TYP_ACCESS_TOKEN, &claims).expect("sign");
    let ring = KeyRing::new(vec![key]);
    icount_jwt_verify(&ring, &token, iterations)
}

fn acl(iterations: u32) -> usize {
    let facts = fixtures::facts();
    let records: Vec<RecordFacts> = (0..1000).map(fixtures::record).collect();
    icount_acl_batch(&facts, &records, iterations)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(workload), Some(Ok(iterations))) =
        (args.get(1), args.get(2).map(|n| n.parse::<u32>()))
    else {
        eprintln!("usage: hot_paths jwt-verify-es256|jwt-verify-eddsa|acl-1000-records ITERATIONS");
        return ExitCode::from(2);
    };
    let done = match workload.as_str() {
        "jwt-verify-es256" => jwt(Alg::ES256, iterations),
        "jwt-verify-eddsa" => jwt(Alg::EdDSA, iterations),
        "acl-1000-records" => acl(iterations),
        other => {
            eprintln!("unknown workload {other}");
            return ExitCode::from(2);
        }
    };
    println!("{done}");
    ExitCode::SUCCESS
}
