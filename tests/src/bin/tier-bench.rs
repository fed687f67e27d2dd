//! Moving a workspace through an object store as active plain files (one object per
//! file) against as one SQLite archive (one object): requests and time, with and
//! without an added per-request latency. Figures for the seed's latency argument.
//!
//! `cargo run --release -p sila-store-tests --bin tier-bench [FIXTURE|DIR] [DELAY_MS...]`
//! Uses the store in `SILA_STORE_S3` (e.g. s3s-fs started by `. scripts/s3-server`),
//! else memory. Default fixture: rich; default delays: 0 and 20 ms. Also measures an
//! incremental push after 1% of the ops changed (new lines appended to ops files of a
//! copy). With `--json`, one JSON object per row as well.

use std::sync::atomic::Ordering;
use std::time::Instant;

use object_store::{ObjectStoreExt, PutPayload};
use sila_store_native::tiers::TierStore;
use sila_store_tests::{fixtures_dir, TempDir};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let mut args = std::env::args().skip(1).filter(|a| a != "--json");
    let fixture = args.next().unwrap_or_else(|| "rich".into());
    let delays: Vec<u64> = {
        let v: Vec<u64> = args.filter_map(|a| a.parse().ok()).collect();
        if v.is_empty() {
            vec![0, 20]
        } else {
            v
        }
    };
    let fx = if std::path::Path::new(&fixture).is_dir() {
        std::path::PathBuf::from(&fixture)
    } else {
        fixtures_dir().join(&fixture)
    };
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
        // 1% of the ops change: new lines appended to ops files, then push again.
        let changed = t.join("changed");
        sila_store_tests::copy_dir(&t.join("pulled"), &changed);
        let appended = append_one_percent(&changed);
        let m = run("incremental push after 1% new ops");
        let r = s.push(&changed).await.unwrap();
        finish(m, &s);
        assert!(r.transferred > 0 && appended > 0);
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
        for (name, req, ms) in rows.iter() {
            let reference = if name.starts_with("pull")
                || name.starts_with("get")
                || name.starts_with("unarchive")
            {
                pull_ms
            } else {
                push_ms
            };
            println!(
                "{delay:>6}ms {name:<34} {req:>9} {ms:>10.1} {:>7.2}x",
                ms / reference
            );
            if json {
                println!(
                    "{{\"figure\":\"tiers\",\"delay_ms\":{delay},\"operation\":\"{name}\",\"requests\":{req},\"ms\":{ms:.1}}}"
                );
            }
        }
    }
    println!("ratio: time / the file-by-file push (writes) or pull (reads) at the same delay");
}

/// Appends new op lines (1% of the workspace's op lines, at least one) to its ops
/// files, round robin; returns how many.
fn append_one_percent(root: &std::path::Path) -> usize {
    let mut files = Vec::new();
    let mut stack = vec![root.join("space-v1/ops")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().path()) {
            if e.is_dir() {
                stack.push(e);
            } else if e.to_string_lossy().ends_with("-p.jsonl") {
                files.push(e);
            }
        }
    }
    files.sort();
    let lines: usize = files
        .iter()
        .map(|f| {
            std::fs::read(f)
                .unwrap()
                .iter()
                .filter(|b| **b == b'\n')
                .count()
        })
        .sum();
    let n = (lines / 100).max(1);
    for i in 0..n {
        let f = &files[i % files.len()];
        let mut text = std::fs::read_to_string(f).unwrap();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!(
            "[{},\"bench\",\"note\",\"edit {i}\"]\n",
            9_000_000 + i
        ));
        std::fs::write(f, text).unwrap();
    }
    n
}
