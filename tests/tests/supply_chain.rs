//! Supply chain (issue 9): `cargo deny` with the reviewed `deny.toml` — licences on the
//! allow-list, no banned crates (OpenSSL, native-tls), no wildcard versions, crates.io as
//! the only source. The RustSec advisory check needs the advisory database from GitHub,
//! which this project's machines cannot reach; docs/security.md §5 says so.

use std::path::Path;
use std::process::Command;

#[test]
fn dependencies_pass_the_licence_ban_and_source_policy() {
    if !e2e::cargo_tool_installed("deny") {
        e2e::skip("cargo-deny (cargo install cargo-deny)");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new("cargo")
        .args(["deny", "check", "licenses", "bans", "sources"])
        .current_dir(&root)
        .output()
        .expect("cargo deny runs");
    let report = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = report.lines().filter(|l| l.starts_with("error")).collect();
    assert!(
        out.status.success(),
        "cargo deny found {} problem(s):\n{}\n{}",
        errors.len(),
        errors.join("\n"),
        report.lines().rev().take(3).collect::<Vec<_>>().join("\n")
    );
}
