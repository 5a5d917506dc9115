//! What argon2id allows on this machine: password verifications per second through the
//! server's own hasher (same parameters, same concurrency cap = core count), with no HTTP
//! around it. bench/run.py divides measured logins/s by this to say how close the login
//! path gets to the hashing limit.
//! `cargo run --release -p auth-server --example argon2_rate -- SECONDS`

use auth_server::directory::password::PasswordHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[actix_web::main]
async fn main() {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let hasher = PasswordHasher::new(cores).expect("hasher");
    let stored = hasher.hash("bench password 1").await.expect("hash");
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    // Twice as many callers as permits, like concurrent logins queueing on the semaphore.
    let tasks: Vec<_> = (0..cores * 2)
        .map(|_| {
            let (hasher, stored, done) = (hasher.clone(), stored.clone(), done.clone());
            actix_web::rt::spawn(async move {
                while Instant::now() < deadline {
                    let ok = hasher
                        .verify("bench password 1", Some(stored.clone()))
                        .await;
                    assert!(ok.expect("verify"), "the password must verify");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    let rate = done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
    println!("{rate:.1} argon2id verifications/s on {cores} cores");
}
