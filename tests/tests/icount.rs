//! Instruction-count guard of the pure hot paths (issue 10 point 5): the JWT verification
//! behind every introspection and the ACL batch behind `/acl/evaluate`, counted by
//! callgrind, compared with the reviewed baseline in `bench/icount.json`.
//!
//! Instruction counts do not depend on the machine's load, unlike wall-clock time, so the
//! guard can be strict where a timed test could not: it fails when a workload needs more
//! than [`TOLERANCE`] × its baseline. Only the two `icount_*` functions of
//! `src/bin/hot_paths.rs` are counted (callgrind `--toggle-collect`), so key generation
//! and set-up are not. The counts are of the test profile (the crypto crates are built
//! with `opt-level = 3` there, the rest unoptimised), which tracks what regresses in
//! practice: extra allocation, parsing or copying per call, and algorithmic blow-ups.
//!
//! After an intended change, `AUTH_ICOUNT_WRITE=1 cargo test -p e2e --test icount`
//! rewrites the baseline; review the diff like any other.

use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A workload fails above this multiple of its baseline.
const TOLERANCE: f64 = 1.25;

/// (baseline name, argument of `hot_paths`, iterations).
const WORKLOADS: [(&str, &str, u32); 3] = [
    ("jwt_verify_es256_per_token", "jwt-verify-es256", 20),
    ("jwt_verify_eddsa_per_token", "jwt-verify-eddsa", 20),
    ("acl_1000_records_per_batch", "acl-1000-records", 3),
];

fn baseline_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/icount.json")
}

fn valgrind_installed() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Instructions executed inside `icount_*` for one run, and what the run printed.
fn count(workload: &str, iterations: u32) -> (u64, u64) {
    let out_file = tempfile::NamedTempFile::new().unwrap();
    let out = Command::new("valgrind")
        .args([
            "--tool=callgrind",
            // Exact names: a pattern would also match the functions' closures, and
            // entering a matching function toggles collection off again.
            "--toggle-collect=hot_paths::icount_jwt_verify",
            "--toggle-collect=hot_paths::icount_acl_batch",
            &format!("--callgrind-out-file={}", out_file.path().display()),
            env!("CARGO_BIN_EXE_hot_paths"),
            workload,
            &iterations.to_string(),
        ])
        .output()
        .expect("valgrind runs");
    assert!(
        out.status.success(),
        "{workload}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let done: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("hot_paths prints its count");
    let profile = std::fs::read_to_string(out_file.path()).unwrap();
    let total = profile
        .lines()
        .find_map(|l| {
            l.strip_prefix("totals:")
                .or_else(|| l.strip_prefix("summary:"))
        })
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("callgrind writes a total");
    (total, done)
}

#[test]
fn hot_path_instruction_counts_stay_within_the_baseline() {
    if !valgrind_installed() {
        e2e::skip("valgrind (Debian package valgrind)");
        return;
    }
    let baseline: Map<String, Value> = std::fs::read_to_string(baseline_path())
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    let mut measured = Map::new();
    let mut report = vec![format!(
        "{:<30} {:>12} {:>12} {:>7}",
        "workload", "baseline", "measured", "ratio"
    )];
    let mut regressions = Vec::new();
    for (name, workload, iterations) in WORKLOADS {
        let (total, done) = count(workload, iterations);
        // The workload really ran: every token verified, some records admitted.
        if workload.starts_with("jwt") {
            assert_eq!(
                done,
                u64::from(iterations),
                "{workload}: a token did not verify"
            );
        } else {
            assert!(done > 0, "{workload}: no record admitted");
        }
        let per_op = total / u64::from(iterations);
        assert!(
            per_op > 1_000,
            "{workload}: {per_op} instructions: nothing counted"
        );
        measured.insert(name.into(), per_op.into());
        let base = baseline.get(name).and_then(Value::as_u64);
        let ratio = base.map(|b| per_op as f64 / b as f64);
        report.push(format!(
            "{name:<30} {:>12} {per_op:>12} {:>7}",
            base.map_or("-".into(), |b| b.to_string()),
            ratio.map_or("-".into(), |r| format!("{r:.3}")),
        ));
        match ratio {
            Some(r) if r > TOLERANCE => regressions.push(name),
            None => regressions.push(name),
            _ => {}
        }
    }
    let report = report.join("\n");
    println!("{report}");
    if std::env::var_os("AUTH_ICOUNT_WRITE").is_some() {
        let text = serde_json::to_string_pretty(&Value::Object(measured)).unwrap() + "\n";
        std::fs::write(baseline_path(), text).unwrap();
        return;
    }
    assert!(
        regressions.is_empty(),
        "instruction counts above {TOLERANCE} × the baseline (or no baseline) for {regressions:?}:\n{report}\n\
         if intended, rewrite bench/icount.json with AUTH_ICOUNT_WRITE=1 and explain it in docs/performance.md"
    );
}
