//! Moving a workspace through an object store as active plain files (one object per
//! file) against as one SQLite archive (one object): requests and time, with and
//! without an added per-request latency. Figures for the seed's latency argument.
//!
//! `cargo run --release -p sila-store-tests --bin tier-bench [FIXTURE] [DELAY_MS...]`
//! Uses the store in `SILA_STORE_S3` (e.g. s3s-fs started by `. scripts/s3-server`),
//! else memory. Default fixture: rich; default delays: 0 and 20 ms.

use std::sync::atomic::Ordering;
use std::time::Instant;

use object_store::{ObjectStoreExt, PutPayload};
use sila_store_native::tiers::TierStore;
use sila_store_tests::{fixtures_dir, TempDir};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let fixture = args.next().unwrap_or_else(|| "rich".into());
    let delays: Vec<u64> = {
        let v: Vec<u64> = args.filter_map(|a| a.parse().ok()).collect();
        if v.is_empty() {
            vec![0, 20]
        } else {
            v
        }
    };
    let fx = fixtures_dir().join(&fixture);
    let id = sila_store_core::space::space_id_from_json(
        &std::fs::read(fx.join("space-v1/space.json")).unwrap(),
    )
    .unwrap();
    let base = std::env::var("SILA_STORE_S3").unwrap_or_else(|_| "memory://bench".into());
    println!("workspace {fixture} ({id}), store {base}");
    println!(
        "{:>8} {:<34} {:>9} {:>10} {:>8}",
        "delay", "operation", "requests", "time ms", "ratio"
    );
    for delay in delays {
        // A short prefix: s3s-fs keeps keys under 160 bytes (see tests/tests/tiers.rs).
        let url = format!(
            "{}/b{:x}{delay}",
            base.trim_end_matches('/'),
            std::process::id() & 0xfff
        );
        let s = TierStore::open(&url).unwrap();
        s.instruments().delay_ms.store(delay, Ordering::SeqCst);
        let t = TempDir::new();
        let run = |name: &'static str| (name, s.instruments().requests(), Instant::now());
        let mut rows: Vec<(&str, u64, f64)> = Vec::new();
        let mut finish = |(name, r0, t0): (&'static str, u64, Instant), s: &TierStore| {
            rows.push((
                name,
                s.instruments().requests() - r0,
                t0.elapsed().as_secs_f64() * 1000.0,
            ));
        };
        let m = run("push: active tier, file by file");
        s.push(&fx).await.unwrap();
        finish(m, &s);
        let m = run("pull: active tier, file by file");
        s.pull(&id, &t.join("pulled")).await.unwrap();
        finish(m, &s);
        // The same workspace as one object: its SQLite archive.
        let db = t.join("w.db");
        sila_store_native::convert(&fx, &db, Default::default(), &mut |_| {}).unwrap();
        let bytes = std::fs::read(&db).unwrap();
        let key = s.key("bench/workspace.db");
        let m = run("put one archive object");
        s.store.put(&key, PutPayload::from(bytes)).await.unwrap();
        finish(m, &s);
        let m = run("get one archive object");
        let got = s.store.get(&key).await.unwrap().bytes().await.unwrap();
        assert!(!got.is_empty());
        finish(m, &s);
        let m = run("archive (whole operation)");
        s.archive(&id).await.unwrap();
        finish(m, &s);
        let m = run("unarchive (whole operation)");
        s.unarchive(&id).await.unwrap();
        finish(m, &s);
        let push_ms = rows[0].2;
        let pull_ms = rows[1].2;
        for (i, (name, req, ms)) in rows.iter().enumerate() {
            let reference = if i % 2 == 0 { push_ms } else { pull_ms };
            println!(
                "{delay:>6}ms {name:<34} {req:>9} {ms:>10.1} {:>7.2}x",
                ms / reference
            );
        }
    }
    println!(
        "ratio: time / the file-by-file push (even rows) or pull (odd rows) at the same delay"
    );
}
