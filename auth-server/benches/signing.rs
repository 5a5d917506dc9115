//! Criterion benchmarks of the signatures behind each JWT algorithm (issue 10): what one
//! token's signature costs with the library that signs it, and, for Ed25519, with the
//! library it replaced (ring), which took about a quarter longer on the host measured
//! (docs/performance.md, session 15).

use criterion::{Criterion, criterion_group, criterion_main};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    // About the size of a client-credentials token's signing input.
    let message = vec![b'x'; 400];
    let rng = ring::rand::SystemRandom::new();

    let dalek = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    c.bench_function("sign/EdDSA (ed25519-dalek, used)", |b| {
        b.iter(|| ed25519_dalek::Signer::sign(&dalek, black_box(&message)))
    });
    let der = Ed25519KeyPair::generate_pkcs8(&rng).expect("Ed25519 key");
    let ring_ed = Ed25519KeyPair::from_pkcs8(der.as_ref()).expect("Ed25519 key");
    c.bench_function("sign/EdDSA (ring, replaced)", |b| {
        b.iter(|| ring_ed.sign(black_box(&message)))
    });

    let der =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("P-256 key");
    let p256 = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der.as_ref(), &rng)
        .expect("P-256 key");
    c.bench_function("sign/ES256 (ring, used)", |b| {
        b.iter(|| p256.sign(&rng, black_box(&message)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
