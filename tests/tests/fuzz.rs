//! The cargo-fuzz targets of `auth-server/fuzz` (SECURITY.md §6 parsers an attacker
//! reaches first), each run for a bounded time on a corpus kept between runs, after
//! replaying every committed regression input. A crash fails the test with the path of
//! the input libFuzzer saved; it then belongs in `auth-server/fuzz/regressions/<target>/`.
//!
//! Needs `cargo fuzz` (`cargo install cargo-fuzz`); the fuzz build is its own workspace
//! with coverage instrumentation, in its own target directory. `AUTH_FUZZ_SECONDS`
//! (default 20) sets the time per target.

use std::path::{Path, PathBuf};
use std::process::Command;

fn cache_dir() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(std::env::temp_dir, PathBuf::from);
    home.join(".cache").join("auth-server-fuzz")
}

fn cargo_fuzz(fuzz_crate: &Path) -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.arg("fuzz")
        .current_dir(fuzz_crate.parent().expect("auth-server/fuzz has a parent"))
        // cargo-fuzz passes `-Z` flags; the stable toolchain accepts them this way.
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_DIR", cache_dir().join("target"))
        .env_remove("RUSTFLAGS");
    cmd
}

fn run(mut cmd: Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!("{what} failed:\n{}", tail.join("\n"));
    }
    text
}

#[test]
fn every_fuzz_target_runs_clean_within_its_time_budget() {
    let fuzz_crate = Path::new(env!("CARGO_MANIFEST_DIR")).join("../auth-server/fuzz");
    if !e2e::cargo_tool_installed("fuzz") {
        e2e::skip("cargo-fuzz (cargo install cargo-fuzz)");
        return;
    }
    let seconds: u64 = std::env::var("AUTH_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let mut build = cargo_fuzz(&fuzz_crate);
    build.args(["build", "--sanitizer", "none", "-O"]);
    run(build, "cargo fuzz build");
    let mut list = cargo_fuzz(&fuzz_crate);
    list.arg("list");
    let targets = run(list, "cargo fuzz list");
    let targets: Vec<&str> = targets
        .lines()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    assert!(targets.len() >= 7, "fuzz targets: {targets:?}");
    for target in targets {
        let corpus = cache_dir().join("corpus").join(target);
        std::fs::create_dir_all(&corpus).unwrap();
        let artifacts = cache_dir().join("artifacts").join(target);
        std::fs::create_dir_all(&artifacts).unwrap();
        let mut inputs = vec![corpus.clone()];
        for dir in ["seeds", "regressions"] {
            let d = fuzz_crate.join(dir).join(target);
            if d.is_dir() {
                inputs.push(d);
            }
        }
        let mut fuzz = cargo_fuzz(&fuzz_crate);
        fuzz.args(["run", "--sanitizer", "none", "-O", target])
            .args(&inputs)
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .args(["-timeout=10", "-rss_limit_mb=2048", "-max_len=8192"]);
        let out = run(fuzz, &format!("fuzz target {target}"));
        let summary = out
            .lines()
            .rfind(|l| l.starts_with("Done ") || l.contains("DONE"))
            .unwrap_or("done");
        eprintln!("fuzz {target}: {summary}");
    }
}
