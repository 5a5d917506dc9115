//! The deployment files: `docker-compose.yml` and `auth-server/Dockerfile`. No compose
//! binary or registry is available to CI, so the compose file is checked structurally:
//! the services of the production shape, health checks everywhere, the environment wired
//! to the right services, only variables the server knows, and a Dockerfile that builds
//! in stages and runs as a non-root user.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use yaml_rust2::{Yaml, YamlLoader};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn compose() -> Yaml {
    let text = std::fs::read_to_string(repo().join("docker-compose.yml")).unwrap();
    YamlLoader::load_from_str(&text)
        .expect("docker-compose.yml is valid YAML")
        .remove(0)
}

/// `key` of a service, looked up through a `<<` merge key as compose does.
fn field<'a>(service: &'a Yaml, key: &str) -> &'a Yaml {
    match &service[key] {
        Yaml::BadValue => &service["<<"][key],
        v => v,
    }
}

fn env<'a>(service: &'a Yaml, var: &str) -> &'a str {
    field(service, "environment")[var]
        .as_str()
        .unwrap_or_else(|| panic!("{var} is set"))
}

#[test]
fn compose_brings_up_two_servers_on_shared_postgres_and_redis_with_health_checks() {
    let doc = compose();
    let services = doc["services"].as_hash().expect("services");
    let names: BTreeSet<&str> = services.keys().filter_map(Yaml::as_str).collect();
    for needed in ["auth-1", "auth-2", "postgres", "redis", "openldap"] {
        assert!(names.contains(needed), "service {needed} in {names:?}");
    }
    for (name, service) in services {
        let test = &field(service, "healthcheck")["test"];
        assert!(
            test.as_vec().is_some_and(|t| t.len() > 1),
            "{name:?} has a health check command"
        );
    }
    let known: BTreeSet<&str> = auth_server::config::Settings::help_table()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let servers = ["auth-1", "auth-2"].map(|n| &doc["services"][n]);
    for server in servers {
        let build = field(server, "build");
        let dockerfile = build["dockerfile"].as_str().unwrap();
        assert!(repo().join(dockerfile).is_file(), "{dockerfile} exists");
        let probe = field(server, "healthcheck")["test"].as_vec().unwrap();
        assert!(
            probe
                .iter()
                .any(|a| a.as_str().is_some_and(|s| s.ends_with("/readyz"))),
            "the health check is the readiness probe"
        );
        for (var, _) in field(server, "environment").as_hash().unwrap() {
            let var = var.as_str().unwrap();
            assert!(known.contains(var), "{var} is a variable the server knows");
        }
        let db = url::Url::parse(
            &env(server, "AUTH_DATABASE_URL").replace("${POSTGRES_PASSWORD:-auth}", "x"),
        )
        .unwrap();
        assert_eq!((db.scheme(), db.host_str()), ("postgres", Some("postgres")));
        let redis = url::Url::parse(env(server, "AUTH_REDIS_URL")).unwrap();
        assert_eq!(redis.host_str(), Some("redis"));
        assert!(env(server, "AUTH_LISTEN").starts_with("0.0.0.0:"));
        // Secrets must be supplied, never defaulted in the file.
        assert!(env(server, "AUTH_MASTER_KEY").contains(":?"));
        assert!(env(server, "AUTH_ADMIN_CLIENT_SECRET").contains(":?"));
        for dep in ["postgres", "redis"] {
            assert_eq!(
                field(server, "depends_on")[dep]["condition"].as_str(),
                Some("service_healthy"),
                "starts after {dep} is healthy"
            );
        }
        let grace = field(server, "stop_grace_period").as_str().unwrap();
        assert!(
            grace.trim_end_matches('s').parse::<u32>().unwrap() > 25,
            "grace period covers the 25 s drain"
        );
    }
    // Both replicas share one database, one Redis, one master key and one public URL.
    for var in [
        "AUTH_DATABASE_URL",
        "AUTH_REDIS_URL",
        "AUTH_MASTER_KEY",
        "AUTH_PUBLIC_URL",
    ] {
        assert_eq!(env(servers[0], var), env(servers[1], var), "{var} shared");
    }
    // The names used in the URLs are services of this file.
    let pg_user = doc["services"]["postgres"]["environment"]["POSTGRES_USER"].as_str();
    assert_eq!(pg_user, Some("auth"));
}

#[test]
fn the_dockerfile_builds_in_stages_and_runs_unprivileged() {
    let text = std::fs::read_to_string(repo().join("auth-server/Dockerfile")).unwrap();
    let from: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert!(from.len() >= 2, "multi-stage: {from:?}");
    assert!(
        from.last().unwrap().contains("-slim"),
        "small runtime image: {from:?}"
    );
    let runtime = &text[text.rfind("FROM ").unwrap()..];
    let user = runtime
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("the runtime stage sets USER");
    let user = user.split(':').next().unwrap().trim();
    assert!(user != "root" && user != "0", "runs as {user}, not root");
    assert!(
        runtime.contains("COPY --from=build"),
        "only the binary is copied over"
    );
    assert!(
        text.contains("--locked"),
        "builds with the committed Cargo.lock"
    );
}
