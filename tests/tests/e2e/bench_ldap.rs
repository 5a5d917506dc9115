//! LDAP login benchmark (ignored by default; run with
//! `cargo test -p e2e --test e2e -- --ignored bench_ldap --nocapture`): logins per second
//! through one connection's warm pool against a local slapd, and the latency added by
//! resolving a user's 50 nested groups. Figures go to docs/benchmarks.md.

use auth_server::directory::ldap::{DirectorySettings, LdapPool};
use auth_server::domain::connection::{ConnectionConfig, ConnectionKind, GroupSettings};
use e2e::slapd::{BASE, SVC_DN, SVC_PW, Slapd};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CHAINS: usize = 5;
const DEPTH: usize = 10;

fn seed() -> String {
    let mut ldif = String::new();
    for user in ["deep", "flat"] {
        ldif.push_str(&format!(
            "dn: uid={user},ou=people,{BASE}\nchangetype: add\nobjectClass: inetOrgPerson\nuid: {user}\ncn: {user}\nsn: {user}\nuserPassword: {user}-pw\n\n"
        ));
    }
    // Five chains of ten: deep ∈ c{k}-0 ⊂ c{k}-1 ⊂ … ⊂ c{k}-9 (50 groups, depth 10).
    for k in 0..CHAINS {
        for i in 0..DEPTH {
            let member = if i == 0 {
                format!("uid=deep,ou=people,{BASE}")
            } else {
                format!("cn=c{k}-{},ou=groups,{BASE}", i - 1)
            };
            ldif.push_str(&format!(
                "dn: cn=c{k}-{i},ou=groups,{BASE}\nchangetype: add\nobjectClass: groupOfNames\ncn: c{k}-{i}\nmember: {member}\n\n"
            ));
        }
    }
    ldif
}

fn pool(url: &str, size: u32) -> Arc<LdapPool> {
    Arc::new(LdapPool::new(DirectorySettings {
        kind: ConnectionKind::Ldap,
        config: ConnectionConfig {
            url: Some(url.to_owned()),
            bind_dn: Some(SVC_DN.into()),
            user_base_dn: Some(format!("ou=people,{BASE}")),
            user_filter: Some("(&(objectClass=inetOrgPerson)(uid={username}))".into()),
            groups: Some(GroupSettings {
                base_dn: Some(format!("ou=groups,{BASE}")),
                ..Default::default()
            }),
            pool_size: Some(size),
            ..Default::default()
        },
        bind_password: SVC_PW.to_owned().into(),
    }))
}

async fn mean_latency(pool: &LdapPool, user: &str, n: usize) -> (Duration, usize) {
    let mut groups = 0;
    let started = Instant::now();
    for _ in 0..n {
        let u = pool
            .authenticate(user, &format!("{user}-pw"))
            .await
            .unwrap();
        groups = u.groups.len();
    }
    (started.elapsed() / n as u32, groups)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run explicitly"]
async fn bench_ldap() {
    let Some(dir) = Slapd::start(None).await else {
        return;
    };
    dir.modify(&seed()).await;

    // Throughput: 8 concurrent callers through a warm pool of 4 connections.
    let p = pool(&dir.url, 4);
    for _ in 0..8 {
        p.authenticate("flat", "flat-pw").await.unwrap();
    }
    let total = 2000;
    let callers = 8;
    let started = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let p = Arc::clone(&p);
            tokio::spawn(async move {
                for _ in 0..total / callers {
                    p.authenticate("flat", "flat-pw").await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "BENCH ldap logins: {total} in {secs:.2} s = {:.0} logins/s ({callers} callers, pool of 4)",
        total as f64 / secs
    );

    // Group resolution: the same login with no groups, then with 50 nested groups.
    let single = pool(&dir.url, 1);
    single.authenticate("flat", "flat-pw").await.unwrap();
    let (flat, g0) = mean_latency(&single, "flat", 300).await;
    let (deep, g50) = mean_latency(&single, "deep", 300).await;
    assert_eq!(g0, 0);
    assert_eq!(g50, CHAINS * DEPTH, "every nested group resolved");
    println!(
        "BENCH ldap latency: no groups {:.2} ms, 50 nested groups {:.2} ms (+{:.2} ms)",
        flat.as_secs_f64() * 1e3,
        deep.as_secs_f64() * 1e3,
        (deep.as_secs_f64() - flat.as_secs_f64()) * 1e3
    );
}
