//! Deep and wide trees through the real `sila-store` binary (issue 14, class 6): long
//! chains of moves, in order, delivered in reverse, built bottom up, with moves that
//! would close cycles, fan-outs re-parented child by child, nested folders with a
//! file in each. Each goes through `verify`, `info`, `show`, `tree` (text and JSON) and
//! `convert` to the other formats, under a 1 GiB address-space cap and a time limit
//! per command, and must give the right answer (checked against RepTree's own walk on
//! the same ops where the answer is a tree). A history whose out-of-order moves would
//! need more than `REPLAY_BUDGET` undo and redo steps is refused as `Corrupt` in
//! bounded time, and `verify` only warns of it (the bytes are sound).
//!
//! Also: random deep and wide op recipes through the `reptree_ops` fuzz check.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;

use sila_store_core::ids::TreeId;
use sila_store_core::model::load_tree;
use sila_store_core::reptree::RepTree;
use sila_store_native::with_source;
use sila_store_tests::fuzz_checks::reptree_ops;
use sila_store_tests::{add_cas_file, sha256_listing, sila_store_bin, TempDir};

/// The space (and space tree) id of every case.
const T: &str = "13e6fe9fcda64da2bd37cdf89a15a155";
/// Address-space cap of every run (KiB).
const MEMORY_CAP_KIB: u64 = 1 << 20;
/// Time limit of every run (seconds): generous, for debug builds on a busy machine;
/// the quadratic versions took minutes.
const TIME_LIMIT_S: u64 = 60;
/// The CAS file every file vertex of the nested folders names.
const BLOB: &[u8] = b"deep";

fn blob_hash() -> String {
    sila_store_core::ids::Sha256Hex::of(BLOB)
        .as_str()
        .to_string()
}

/// Length of the chains.
const N: usize = 20_000;

/// A workspace whose space tree has the given move lines (`[counter, target, parent]`)
/// and property lines (`[counter, target, key, value]`), as one peer's files.
fn workspace(dir: &Path, moves: &str, props: &str) {
    let ops = dir.join(format!("space-v1/ops/{}/{}/2026/01/02", &T[..2], &T[2..]));
    fs::create_dir_all(&ops).unwrap();
    fs::write(dir.join("sila.md"), "# Sila Space\n").unwrap();
    fs::write(
        dir.join("space-v1/space.json"),
        format!("{{\"id\":\"{T}\"}}"),
    )
    .unwrap();
    fs::write(ops.join("aa11-m.jsonl"), moves).unwrap();
    fs::write(ops.join("aa11-p.jsonl"), props).unwrap();
}

fn line(out: &mut String, c: usize, target: &str, parent: Option<&str>) {
    let p = parent.map_or("null".to_string(), |p| format!("\"{p}\""));
    let _ = writeln!(out, "[{c},\"{target}\",{p}]");
}

/// The root, named, a space (`version`), with `assets` and `threads`.
fn root(moves: &mut String, props: &mut String) {
    line(moves, 1, T, None);
    let _ = writeln!(props, "[2,\"{T}\",\"name\",\"deep\"]");
    let _ = writeln!(props, "[3,\"{T}\",\"version\",\"0\"]");
}

/// Each case: name, move lines, property lines, whether it must rebuild (else it is
/// over the replay budget).
fn cases() -> Vec<(&'static str, String, String, bool)> {
    let mut out = Vec::new();
    // 1. A chain in order: v1 under the root, v2 under v1, ...
    let (mut m, mut p) = (String::new(), String::new());
    root(&mut m, &mut p);
    for i in 1..=N {
        let parent = if i == 1 {
            T.to_string()
        } else {
            format!("v{}", i - 1)
        };
        line(&mut m, 10 + i, &format!("v{i}"), Some(&parent));
    }
    out.push(("chain", m, p, true));
    // 2. The same chain written deepest first: every move waits for its parent.
    let (mut m, mut p) = (String::new(), String::new());
    root(&mut m, &mut p);
    for i in (1..=N).rev() {
        let parent = if i == 1 {
            T.to_string()
        } else {
            format!("v{}", i - 1)
        };
        line(&mut m, 10 + i, &format!("v{i}"), Some(&parent));
    }
    out.push(("chain-reversed", m, p, true));
    // 3. Built bottom up: every vertex under the root, then v(i) moved under v(i+1)
    //    from the top down, each check walking the chain grown so far.
    let (mut m, mut p) = (String::new(), String::new());
    root(&mut m, &mut p);
    for i in 1..=N {
        line(&mut m, 10 + i, &format!("v{i}"), Some(T));
    }
    for i in (1..N).rev() {
        line(
            &mut m,
            10 + 2 * N - i,
            &format!("v{i}"),
            Some(&format!("v{}", i + 1)),
        );
    }
    out.push(("chain-bottom-up", m, p, true));
    // 4. A chain, then its top moved under each of its vertices (every one a cycle,
    //    skipped), interleaved with moves of other vertices into the chain.
    let (mut m, mut p) = (String::new(), String::new());
    root(&mut m, &mut p);
    for i in 1..=N {
        let parent = if i == 1 {
            T.to_string()
        } else {
            format!("v{}", i - 1)
        };
        line(&mut m, 10 + i, &format!("v{i}"), Some(&parent));
    }
    for i in (2..=N).step_by(2) {
        line(&mut m, 10 + N + i, "v1", Some(&format!("v{i}")));
        line(&mut m, 11 + N + i, &format!("x{i}"), Some(&format!("v{i}")));
    }
    out.push(("chain-with-cycles", m, p, true));
    // 5. A fan-out: N children of a, moved to b one by one, then back to a in reverse.
    let (mut m, mut p) = (String::new(), String::new());
    root(&mut m, &mut p);
    line(&mut m, 4, "a", Some(T));
    line(&mut m, 5, "b", Some(T));
    for i in 1..=N {
        line(&mut m, 10 + i, &format!("k{i}"), Some("a"));
    }
    for i in 1..=N {
        line(&mut m, 10 + N + i, &format!("k{i}"), Some("b"));
    }
    for i in (1..=N).rev() {
        line(&mut m, 20 + 3 * N - i, &format!("k{i}"), Some("a"));
    }
    out.push(("fanout-reparented", m, p, true));
    // 6. Nested folders under `assets`, a file in each (`show` lists every file with
    //    its folder path).
    let (mut m, mut p) = (String::new(), String::new());
    root(&mut m, &mut p);
    line(&mut m, 4, "assets", Some(T));
    let _ = writeln!(p, "[5,\"assets\",\"name\",\"assets\"]");
    let mut c = 10;
    for i in 1..=N / 4 {
        let parent = if i == 1 {
            "assets".to_string()
        } else {
            format!("d{}", i - 1)
        };
        line(&mut m, c, &format!("d{i}"), Some(&parent));
        let _ = writeln!(p, "[{},\"d{i}\",\"name\",\"folder{i}\"]", c + 1);
        line(&mut m, c + 2, &format!("f{i}"), Some(&format!("d{i}")));
        let _ = writeln!(p, "[{},\"f{i}\",\"mimeType\",\"text/plain\"]", c + 3);
        let _ = writeln!(p, "[{},\"f{i}\",\"hash\",\"{}\"]", c + 4, blob_hash());
        c += 5;
    }
    out.push(("nested-folders", m, p, true));
    // 7. Moves each older than every move before it: RepTree undoes and redoes them
    //    all every time (O(n²) by design), beyond the replay budget.
    let (mut m, mut p) = (String::new(), String::new());
    root(&mut m, &mut p);
    let n = 3_000;
    for i in 1..=n {
        line(&mut m, 1_000_000 + i, &format!("v{i}"), Some(T));
    }
    for j in (1..=n).rev() {
        let parent = if j == 1 {
            T.to_string()
        } else {
            format!("v{}", j - 1)
        };
        line(&mut m, 10 + j, &format!("v{j}"), Some(&parent));
    }
    out.push(("replay-over-budget", m, p, false));
    out
}

/// Runs `sila-store ARGS` under the memory cap and the time limit; returns whether it
/// succeeded, its stdout and how long it took.
fn cli(args: &[&str]) -> (bool, String, std::time::Duration) {
    let start = std::time::Instant::now();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {MEMORY_CAP_KIB} && exec timeout -s KILL {TIME_LIMIT_S} \"$0\" \"$@\""
        ))
        .arg(sila_store_bin())
        .args(args)
        .output()
        .expect("run sila-store");
    let took = start.elapsed();
    // `timeout` exits 137 when it kills; a memory cap shows as an abort or no output.
    let code = out.status.code();
    assert!(
        code == Some(0) || code == Some(1),
        "sila-store {args:?} ended with {:?} after {took:?} (killed by a limit?)\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        took,
    )
}

#[test]
fn deep_and_wide_trees_stay_linear_through_every_command() {
    let t = TempDir::new();
    let mut slowest = (std::time::Duration::ZERO, String::new());
    for (name, moves, props, rebuilds) in cases() {
        let ws = t.join(name);
        workspace(&ws, &moves, &props);
        if name == "nested-folders" {
            add_cas_file(&ws, BLOB);
        }
        let w = ws.to_str().unwrap();
        let mut run = |args: &[&str]| {
            let (ok, out, took) = cli(args);
            eprintln!("{name}: {args:?} {took:?}");
            if took > slowest.0 {
                slowest = (took, format!("{name} {args:?}"));
            }
            (ok, out)
        };
        let (ok, report) = run(&["verify", w, "--json"]);
        assert!(ok, "{name}: verify: {report}");
        let (ok, _) = run(&["info", w, "--json"]);
        assert!(ok, "{name}: info");
        let (ok, show) = run(&["show", w, "--json"]);
        let (tree_ok, text) = run(&["tree", w, T]);
        let (json_ok, json) = run(&["tree", w, T, "--json"]);
        if rebuilds {
            assert!(ok && tree_ok && json_ok, "{name}: {show}");
            // The tree is the one RepTree builds (the differential suite and the
            // `reptree_ops` fuzz check compare the forest with RepTree's walk; here
            // each case's answer is known), drawn once per vertex, in O(n) bytes.
            let tree = with_source(&ws, |s| load_tree(s, &TreeId::new(T).unwrap())).unwrap();
            expect_shape(name, &tree);
            assert!(tree.uses_forest(), "{name}: fell back to walking");
            assert_eq!(json.lines().count(), tree.vertex_count(), "{name}");
            assert!(
                text.len() < 200 * tree.vertex_count(),
                "{name}: {}",
                text.len()
            );
        } else {
            assert!(!ok && !tree_ok && !json_ok, "{name}");
            assert!(show.contains("\"Corrupt\""), "{name}: {show}");
            assert!(report.contains("\"Corrupt\""), "{name}: verify: {report}");
        }
        // Conversions do not rebuild trees, but must stay byte for byte.
        for dst in ["a.zip", "a.db"] {
            let d = t.join(&format!("{name}-{dst}"));
            let (ok, r) = run(&["convert", w, d.to_str().unwrap(), "--json"]);
            assert!(ok, "{name}: convert to {dst}: {r}");
            if dst == "a.db" {
                snapshot_checks(name, &d, rebuilds, &show, &mut run);
            }
            let back = t.join(&format!("{name}-{dst}-back"));
            let (ok, r) = run(&["convert", d.to_str().unwrap(), back.to_str().unwrap()]);
            assert!(ok, "{name}: convert back: {r}");
            assert_eq!(
                sha256_listing(&back),
                sha256_listing(&ws),
                "{name} via {dst}"
            );
        }
        fs::remove_dir_all(&ws).unwrap();
    }
    eprintln!("slowest: {slowest:?}");
}

/// The parent of `id` in `t`.
/// The archive `db` has a snapshot of tree `T` exactly if the tree rebuilds; `show`
/// reads the same from it as from the folder (`folder_show`); and a snapshot slipped
/// in for a tree that cannot be rebuilt is reported by `verify`.
fn snapshot_checks(
    name: &str,
    db: &Path,
    rebuilds: bool,
    folder_show: &str,
    run: &mut dyn FnMut(&[&str]) -> (bool, String),
) {
    let c = rusqlite::Connection::open(db).unwrap();
    let count: i64 = c
        .query_row(
            "SELECT count(*) FROM tree_snapshots WHERE tree_id = ?1",
            [T],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(count, i64::from(rebuilds), "{name}: snapshots of {T}");
    let d = db.to_str().unwrap();
    if rebuilds {
        let (ok, show) = run(&["show", d, "--json"]);
        assert!(
            ok && show == folder_show,
            "{name}: show from the archive: {show}"
        );
        return;
    }
    // The well-formed snapshot of an empty tree.
    c.execute(
        "INSERT INTO tree_snapshots(tree_id, size, deflated, data) VALUES (?1, 6, 0, X'535254310000')",
        [T],
    )
    .unwrap();
    drop(c);
    let (ok, report) = run(&["verify", d, "--json"]);
    assert!(
        !ok && report.contains("cannot be rebuilt"),
        "{name}: verify with a snapshot slipped in: {report}"
    );
}

fn parent<'t>(t: &'t RepTree, id: &str) -> Option<&'t str> {
    t.vertex(id).and_then(|v| v.parent())
}

/// What RepTree builds from each case.
fn expect_shape(name: &str, t: &RepTree) {
    let v = |i: usize| format!("v{i}");
    match name {
        "chain" | "chain-reversed" | "chain-with-cycles" => {
            assert_eq!(parent(t, "v1"), Some(T), "{name}");
            for i in 2..=N {
                assert_eq!(parent(t, &v(i)), Some(v(i - 1).as_str()), "{name} {i}");
            }
            if name == "chain-with-cycles" {
                for i in (2..=N).step_by(2) {
                    assert_eq!(parent(t, &format!("x{i}")), Some(v(i).as_str()));
                }
            }
        }
        "chain-bottom-up" => {
            assert_eq!(parent(t, &v(N)), Some(T));
            for i in 1..N {
                assert_eq!(parent(t, &v(i)), Some(v(i + 1).as_str()), "{name} {i}");
            }
        }
        "fanout-reparented" => {
            let back: Vec<String> = (1..=N).rev().map(|i| format!("k{i}")).collect();
            assert!(
                t.children_ids("a") == back.iter().map(String::as_str).collect::<Vec<_>>(),
                "{name}: children of a"
            );
            assert!(t.children_ids("b").is_empty());
        }
        "nested-folders" => {
            for i in 2..=N / 4 {
                assert_eq!(
                    parent(t, &format!("d{i}")),
                    Some(format!("d{}", i - 1).as_str())
                );
                assert_eq!(parent(t, &format!("f{i}")), Some(format!("d{i}").as_str()));
            }
        }
        other => panic!("no shape for {other}"),
    }
    assert_eq!(t.root().map(|r| r.id()), Some(T));
}

#[test]
fn random_deep_and_wide_recipes_build_the_tree_reptree_builds() {
    // xorshift64: the same recipes every run.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 24) as u8
    };
    for _ in 0..300 {
        let records = 1 + usize::from(next() % 24);
        let mut recipe = Vec::with_capacity(records * 4);
        for _ in 0..records {
            // Kind, length (chains and fan-outs short, so the walking reference stays
            // quick), parent, counter mode: the parent and the counter over their
            // whole range (null, "", "0", old counters).
            recipe.extend([next(), next() % 48, next(), next()]);
        }
        reptree_ops(&recipe);
    }
}
