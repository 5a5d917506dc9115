//! Criterion benchmarks of the pure ACL evaluator (issue 3, "Measure"): one decision,
//! and 10,000 record decisions for one user, as `/acl/evaluate` computes them after the
//! facts are loaded (target: 10,000 decisions in under 5 ms on one core).

#[path = "fixtures/mod.rs"]
mod fixtures;

use auth_server::acl::{AclQuery, RecordFacts, evaluate, prepare};
use criterion::{Criterion, criterion_group, criterion_main};
use fixtures::{facts, record};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let facts = facts();
    let one = AclQuery {
        record: Some(record(1)),
    };
    c.bench_function("acl/one_decision", |b| {
        b.iter(|| evaluate(black_box(&facts), black_box(&one)))
    });

    // As `/acl/evaluate` does: layers 1–2 once for the user, then each record.
    let records: Vec<RecordFacts> = (0..10_000).map(record).collect();
    c.bench_function("acl/10k_decisions_one_user", |b| {
        b.iter(|| {
            let prepared = prepare(black_box(&facts));
            records
                .iter()
                .map(|r| prepared.decide(Some(r)))
                .filter(|d| d.allowed)
                .count()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
