//! Server tiers against real stores: in memory, a local folder (`file://`), and a real
//! S3-compatible server when `SILA_STORE_S3` names one (`scripts/test` starts s3s-fs
//! on 127.0.0.1 and sets it, with the `AWS_*` variables; `SILA_STORE_REQUIRE_S3=1`
//! makes its absence a failure).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sila_store_core::ids::TreeId;
use sila_store_core::store::WorkspaceStore as _;
use sila_store_core::Error;
use sila_store_native::tiers::{Tier, TierStore, WireOp};
use sila_store_tests::{
    all_fixtures, copy_dir, fixtures_dir, for_each_file, sha256_listing, tier_stores as stores,
    TempDir,
};

static RUN: AtomicU64 = AtomicU64::new(0);

fn space_id(fx: &Path) -> String {
    let j = std::fs::read(fx.join("space-v1/space.json")).unwrap();
    sila_store_core::space::space_id_from_json(&j).unwrap()
}

fn same(a: &Path, b: &Path) {
    assert_eq!(
        sha256_listing(a),
        sha256_listing(b),
        "{} vs {}",
        a.display(),
        b.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_pull_archive_unarchive_every_fixture() {
    let t = TempDir::new();
    for (url, s) in stores(&t) {
        for fx in all_fixtures() {
            let id = space_id(&fx);
            let name = fx.file_name().unwrap().to_string_lossy().to_string();
            let r = s.push(&fx).await.unwrap();
            let files = sha256_listing(&fx).len() as u64;
            assert_eq!(r.transferred, files, "{url} {name}");
            // A second push moves nothing.
            let again = s.push(&fx).await.unwrap();
            assert_eq!(
                (again.transferred, again.skipped),
                (0, files),
                "{url} {name}"
            );
            let out = t.join(&format!("{name}-active"));
            s.pull(&id, &out).await.unwrap();
            same(&fx, &out);
            // A second pull moves nothing.
            assert_eq!(s.pull(&id, &out).await.unwrap().transferred, 0);
            s.archive(&id).await.unwrap();
            let (meta, _) = s.read_metadata(&id).await.unwrap().unwrap();
            assert_eq!(meta.tier, Tier::Archived);
            let left = s
                .engine
                .store()
                .list(&format!("active/{id}/"))
                .await
                .unwrap();
            assert!(
                left.is_empty(),
                "{url} {name}: {} active objects left",
                left.len()
            );
            let out = t.join(&format!("{name}-archived"));
            s.pull(&id, &out).await.unwrap();
            same(&fx, &out);
            s.unarchive(&id).await.unwrap();
            let out = t.join(&format!("{name}-unarchived"));
            s.pull(&id, &out).await.unwrap();
            same(&fx, &out);
            // Open on access: an archived space is unarchived when opened.
            s.archive(&id).await.unwrap();
            let out = t.join(&format!("{name}-opened"));
            s.open_space(&id, &out).await.unwrap();
            same(&fx, &out);
            assert_eq!(
                s.read_metadata(&id).await.unwrap().unwrap().0.tier,
                Tier::Active
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_push_moves_only_what_changed() {
    let t = TempDir::new();
    let ws = t.join("ws");
    copy_dir(&fixtures_dir().join("rich"), &ws);
    for (url, s) in stores(&t) {
        s.push(&ws).await.unwrap();
        // Sila appends to an ops file and adds a blob.
        let ops = ws.join("space-v1/ops/b3/ee88fc46bb4ac1bd8012feac0a7d6c/2026/03/16");
        let file = std::fs::read_dir(&ops)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let mut bytes = std::fs::read(&file).unwrap();
        bytes.extend_from_slice(b"[9999,\"0\",\"x\",1]\n");
        std::fs::write(&file, bytes).unwrap();
        let before = s.instruments().requests();
        let r = s.push(&ws).await.unwrap();
        assert_eq!(r.transferred, 1, "{url}");
        // Metadata read, the file written conditionally on the version the index
        // names (the local copy only extends it), metadata written conditionally: 3
        // requests; a local folder checks each condition with a HEAD first: 5.
        let expected = if s.native_cas { 3 } else { 5 };
        assert_eq!(
            s.instruments().requests() - before,
            expected,
            "{url}: {r:?}"
        );
        let out = t.join(&format!("out-{}", RUN.fetch_add(1, Ordering::SeqCst)));
        s.pull(&space_id(&ws), &out).await.unwrap();
        same(&ws, &out);
    }
}

/// Runs `step` with the store failing from request `n` on, for every `n` until the
/// step succeeds; after each failure the workspace must be complete in some tier, and
/// running the step again must finish it.
async fn crash_at_every_request(s: &TierStore, fx: &Path, t: &TempDir, archive: bool) -> u64 {
    let id = space_id(fx);
    let mut n = 1;
    loop {
        // Start from the right tier.
        s.instruments().fail_from.store(0, Ordering::SeqCst);
        let tier = s.read_metadata(&id).await.unwrap().map(|m| m.0.tier);
        match (archive, tier) {
            (_, None) => {
                s.push(fx).await.unwrap();
                if !archive {
                    s.archive(&id).await.unwrap();
                }
            }
            (true, Some(Tier::Archived)) => {
                s.unarchive(&id).await.unwrap();
            }
            (false, Some(Tier::Active)) => {
                s.archive(&id).await.unwrap();
            }
            _ => {}
        }
        let start = s.instruments().requests();
        s.instruments().fail_from.store(start + n, Ordering::SeqCst);
        let result = if archive {
            s.archive(&id).await
        } else {
            s.unarchive(&id).await
        };
        s.instruments().fail_from.store(0, Ordering::SeqCst);
        // Whatever happened, the workspace is complete where the metadata says.
        let out = t.join(&format!("crash-{}", RUN.fetch_add(1, Ordering::SeqCst)));
        s.pull(&id, &out).await.unwrap();
        same(fx, &out);
        if result.is_ok() {
            return n;
        }
        // Running again finishes the job.
        if archive {
            s.archive(&id).await.unwrap();
        } else {
            s.unarchive(&id).await.unwrap();
        }
        let (meta, _) = s.read_metadata(&id).await.unwrap().unwrap();
        assert_eq!(
            meta.tier,
            if archive {
                Tier::Archived
            } else {
                Tier::Active
            }
        );
        let out = t.join(&format!("crash-{}", RUN.fetch_add(1, Ordering::SeqCst)));
        s.pull(&id, &out).await.unwrap();
        same(fx, &out);
        n += 1;
        assert!(n < 500, "never succeeded");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_any_step_loses_nothing() {
    let t = TempDir::new();
    let fx = fixtures_dir().join("getting-started-complete");
    for (url, s) in stores(&t) {
        let a = crash_at_every_request(&s, &fx, &t, true).await;
        let u = crash_at_every_request(&s, &fx, &t, false).await;
        eprintln!("{url}: archive survived a crash at each of its first {} requests, unarchive at each of {}", a - 1, u - 1);
        assert!(a > 5 && u > 5);
    }
}

fn set(counter: u64, peer: &str, target: &str, key: &str, value: serde_json::Value) -> WireOp {
    WireOp::set(counter, peer, target, key, Some(&value.to_string())).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_stores_what_the_server_lacks_and_returns_what_the_client_lacks() {
    let t = TempDir::new();
    let fx = fixtures_dir().join("getting-started-complete");
    let id = space_id(&fx);
    let tree = TreeId::new(&id).unwrap();
    for (url, s) in stores(&t) {
        s.push(&fx).await.unwrap();
        // A new client knows nothing: it gets every op of the tree.
        let all = s.sync_tree(&id, &tree, &[], None).await.unwrap();
        assert!(all.len() > 10, "{url}");
        // It sends two new ops (one duplicate of a server op); gets nothing it has.
        let mine = vec![
            set(1000, "c1ient", &id, "name", serde_json::json!("Renamed")),
            set(
                1001,
                "c1ient",
                &id,
                "x",
                serde_json::json!({"b": [1, 2], "a": null}),
            ),
            all[0].clone(),
        ];
        let missing = s.sync_tree(&id, &tree, &mine, None).await.unwrap();
        assert_eq!(missing.len(), all.len() - 1, "{url}");
        // Stored once, in today's file of that peer, as Sila writes lines.
        let again = s.sync_tree(&id, &tree, &mine, None).await.unwrap();
        assert_eq!(again.len(), all.len() - 1);
        let everything = s.sync_tree(&id, &tree, &[], None).await.unwrap();
        assert_eq!(everything.len(), all.len() + 2, "{url}");
        // State-vector form: a client that has every op of the fixture's peer and
        // counters 1000..=1000 of c1ient lacks exactly op 1001.
        let peer = all[0].id.peer_id.clone();
        let sv = BTreeMap::from([
            (peer, vec![[0, u64::MAX]]),
            ("c1ient".to_string(), vec![[1000, 1000]]),
        ]);
        let missing = s.sync_tree(&id, &tree, &[], Some(&sv)).await.unwrap();
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].id.counter, 1001);
        let out = t.join(&format!("sync-{}", RUN.fetch_add(1, Ordering::SeqCst)));
        s.pull(&id, &out).await.unwrap();
        let text: String = walk_text(&out.join("space-v1/ops"));
        assert!(text.contains("[1001,\"a408c191"), "{url}");
        assert!(
            text.contains(r#""x",{"a":null,"b":[1,2]}]"#)
                || text.contains(r#""x",{"b":[1,2],"a":null}]"#)
        );
    }
}

fn walk_text(dir: &Path) -> String {
    let mut out = String::new();
    for_each_file(dir, &mut |_, p| {
        out.push_str(&std::fs::read_to_string(p).unwrap())
    });
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_at_once_lose_nothing() {
    let t = TempDir::new();
    let fx = fixtures_dir().join("getting-started-complete");
    let id = space_id(&fx);
    let tree = TreeId::new(&id).unwrap();
    for (url, s) in stores(&t) {
        s.push(&fx).await.unwrap();
        let s = Arc::new(s);
        let mut tasks = Vec::new();
        // Two servers syncing different peers' ops into the same tree, and two more
        // archiving the workspace meanwhile.
        for w in 0..2u64 {
            let s = Arc::clone(&s);
            let id = id.clone();
            let tree = tree.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..5u64 {
                    let op = set(
                        2000 + i,
                        &format!("writer{w}"),
                        &id,
                        "k",
                        serde_json::json!(i),
                    );
                    loop {
                        match s
                            .sync_tree(&id, &tree, std::slice::from_ref(&op), None)
                            .await
                        {
                            Ok(_) => break,
                            Err(Error::Conflict(_)) => continue,
                            Err(e) => panic!("sync: {e}"),
                        }
                    }
                }
            }));
        }
        // Two archivers (two servers sweeping), so that one's archive run can lose
        // the metadata race to the other's.
        for _ in 0..2 {
            let s = Arc::clone(&s);
            let id = id.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..3 {
                    match s.archive(&id).await {
                        Ok(_) | Err(Error::Conflict(_)) => {}
                        Err(e) => panic!("archive: {e}"),
                    }
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let ops = s.sync_tree(&id, &tree, &[], None).await.unwrap();
        for w in 0..2 {
            for i in 0..5 {
                assert!(
                    ops.iter()
                        .any(|o| o.id.peer_id == format!("writer{w}") && o.id.counter == 2000 + i),
                    "{url}: writer{w} op {i} lost"
                );
            }
        }
    }
}

/// A space pushed to a `file://` store in `t` with op 3000 of peer `writer9` synced
/// into its space tree; also the relative path of that peer's ops file and where the
/// store keeps it on disk (to change it behind the store's back).
struct Writer9 {
    s: TierStore,
    id: String,
    tree: TreeId,
    rel: String,
    path: PathBuf,
}

/// Syncs op 3000 of peer `writer9` into `tree`; returns the path of that peer's ops
/// file (today's).
async fn sync_writer9(s: &TierStore, id: &str, tree: &TreeId) -> String {
    let a = set(3000, "writer9", id, "k", serde_json::json!(1));
    s.sync_tree(id, tree, &[a], None).await.unwrap();
    let (meta, _) = s.read_metadata(id).await.unwrap().unwrap();
    meta.files
        .keys()
        .find(|p| p.contains("writer9"))
        .unwrap()
        .clone()
}

async fn writer9_space(t: &TempDir) -> Writer9 {
    let fx = fixtures_dir().join("getting-started-complete");
    let id = space_id(&fx);
    let tree = TreeId::new(&id).unwrap();
    let root = t.join("direct");
    std::fs::create_dir_all(&root).unwrap();
    let s = TierStore::open(&format!("file://{}", root.display())).unwrap();
    s.push(&fx).await.unwrap();
    let rel = sync_writer9(&s, &id, &tree).await;
    let (meta, _) = s.read_metadata(&id).await.unwrap().unwrap();
    let path = root.join("active").join(&id).join(&meta.epoch).join(&rel);
    Writer9 {
        s,
        id,
        tree,
        rel,
        path,
    }
}

/// A writer whose append to an ops file landed but whose metadata write lost a race
/// leaves lines the index does not name. A later sync of the same op must not just see
/// the line and return: an archive reads files by the index, and one that read the
/// older index could still win and drop the line. The sync returns only once an index
/// naming its lines is written. (Found by `two_writers_at_once_lose_nothing` on S3, once
/// in CI.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_returns_only_once_its_lines_are_indexed() {
    let t = TempDir::new();
    let Writer9 {
        s,
        id,
        tree,
        rel,
        path,
    } = writer9_space(&t).await;
    // The lost writer's line: op 3001, appended without an index update.
    let text = std::fs::read_to_string(&path).unwrap();
    let line_a = text.lines().find(|l| l.contains("3000")).unwrap();
    let line_b = line_a.replacen("3000", "3001", 1);
    std::fs::write(&path, format!("{text}{line_b}\n")).unwrap();
    let b = set(3001, "writer9", &id, "k", serde_json::json!(1));
    s.sync_tree(&id, &tree, &[b], None).await.unwrap();
    let (meta, _) = s.read_metadata(&id).await.unwrap().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let entry = &meta.files[&rel];
    assert_eq!(
        entry.size,
        bytes.len() as u64,
        "the index names the appended line"
    );
    assert_eq!(
        entry.sha256,
        sila_store_core::ids::Sha256Hex::of(&bytes).as_str()
    );
    // And so it survives an archive and an unarchive.
    s.archive(&id).await.unwrap();
    let ops = s.sync_tree(&id, &tree, &[], None).await.unwrap();
    assert!(ops
        .iter()
        .any(|o| o.id.peer_id == "writer9" && o.id.counter == 3001));
}

/// A line appended to an ops file whose writer has not yet written the index (or died
/// first) is not acknowledged: pull and archive take the indexed part of the file and
/// neither fails nor waits for that writer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ops_file_ahead_of_its_index_still_pulls_and_archives() {
    let t = TempDir::new();
    let Writer9 {
        s,
        id,
        tree,
        rel,
        path,
    } = writer9_space(&t).await;
    let indexed = std::fs::read(&path).unwrap();
    let mut ahead = indexed.clone();
    ahead.extend_from_slice(b"[3001,\"x\",\"k\",2]\n");
    std::fs::write(&path, &ahead).unwrap();
    let dir = t.join("pulled");
    s.pull(&id, &dir).await.unwrap();
    assert_eq!(std::fs::read(dir.join(&rel)).unwrap(), indexed);
    let ops = s.get_operations(&id, &tree, None, None).await.unwrap();
    assert!(!ops.iter().any(|o| o.line.contains("3001")));
    s.archive(&id).await.unwrap();
    let back = t.join("back");
    s.pull(&id, &back).await.unwrap();
    assert_eq!(std::fs::read(back.join(&rel)).unwrap(), indexed);
}

/// A push never overwrites lines a server wrote since: a client whose copy of an ops
/// file lacks a synced line pushes its own line, and both are there afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_merges_ops_files_instead_of_overwriting_them() {
    let t = TempDir::new();
    let fx = fixtures_dir().join("getting-started-complete");
    let id = space_id(&fx);
    let tree = TreeId::new(&id).unwrap();
    for (url, s) in stores(&t) {
        let client = t.join(&format!("client-{}", url.len()));
        copy_dir(&fx, &client);
        s.push(&client).await.unwrap();
        // The server takes op 3000 of peer writer9 (today's file of that peer)...
        let rel = sync_writer9(&s, &id, &tree).await;
        // ...while the client wrote op 3001 of that peer into the same file.
        let server_line = {
            let d = t.join(&format!("peek-{}", url.len()));
            s.pull(&id, &d).await.unwrap();
            std::fs::read_to_string(d.join(&rel)).unwrap()
        };
        let local_line = server_line.replacen("3000", "3001", 1);
        let local = client.join(&rel);
        std::fs::create_dir_all(local.parent().unwrap()).unwrap();
        std::fs::write(&local, &local_line).unwrap();
        s.push(&client).await.unwrap();
        let ops = s.sync_tree(&id, &tree, &[], None).await.unwrap();
        for c in [3000, 3001] {
            assert!(
                ops.iter()
                    .any(|o| o.id.peer_id == "writer9" && o.id.counter == c),
                "{url}: op {c} lost"
            );
        }
        // Pushing the same copy again changes nothing.
        let again = s.push(&client).await.unwrap();
        let ops2 = s.sync_tree(&id, &tree, &[], None).await.unwrap();
        assert_eq!(ops.len(), ops2.len(), "{url}: {again:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_archives_idle_spaces() {
    let t = TempDir::new();
    for (url, s) in stores(&t) {
        for name in ["rich", "legacy"] {
            s.push(&fixtures_dir().join(name)).await.unwrap();
        }
        let dry = s.sweep(0, true, 2).await.unwrap();
        assert!(
            dry.iter().all(|i| i.outcome == "would archive"),
            "{url}: {dry:?}"
        );
        let recent = s.sweep(7, false, 2).await.unwrap();
        assert!(
            recent.iter().all(|i| i.outcome == "active (recent)"),
            "{url}: {recent:?}"
        );
        let done = s.sweep(0, false, 2).await.unwrap();
        assert_eq!(
            done.iter().filter(|i| i.outcome == "archived").count(),
            2,
            "{url}: {done:?}"
        );
        for name in ["rich", "legacy"] {
            let fx = fixtures_dir().join(name);
            let (m, _) = s.read_metadata(&space_id(&fx)).await.unwrap().unwrap();
            assert_eq!(m.tier, Tier::Archived);
            let out = t.join(&format!("sweep-{}", RUN.fetch_add(1, Ordering::SeqCst)));
            s.pull(&space_id(&fx), &out).await.unwrap();
            same(&fx, &out);
        }
    }
}

/// The seed's API, used generically: any `WorkspaceStorage` passes the same checks.
async fn storage_api_checks<S: sila_store_core::storage::WorkspaceStorage>(
    s: &S,
    fx: &Path,
    url: &str,
) {
    use sila_store_core::ids::{Day, Sha256Hex};
    use sila_store_core::reptree::{OpId, OpKind, TreeOp};
    use sila_store_core::storage::StorageFormat;
    let id = space_id(fx);
    let tree = TreeId::new(&id).unwrap();
    assert_eq!(
        s.workspace_format(&id).await.unwrap(),
        StorageFormat::PlainFiles,
        "{url}"
    );
    let op = TreeOp {
        id: OpId {
            counter: 5000,
            peer: "api0peer".into(),
        },
        target: id.clone(),
        kind: OpKind::Set {
            key: "name".into(),
            value: Some("\"Via the API\"".into()),
        },
    };
    s.put_operation(&id, &tree, &op).await.unwrap();
    s.put_operation(&id, &tree, &op).await.unwrap(); // stored once
    let today = Day::from_unix_seconds((sila_store_native::tiers::now_ms() / 1000) as i64);
    let ops = s
        .get_operations(&id, &tree, Some(today), Some(today))
        .await
        .unwrap();
    let mine: Vec<_> = ops.iter().filter(|o| o.peer == "api0peer").collect();
    assert_eq!(mine.len(), 1, "{url}: {ops:?}");
    assert_eq!(
        mine[0].line,
        format!("[5000,\"{id}\",\"name\",\"Via the API\"]")
    );
    let blob = b"a file put through the storage API".to_vec();
    let hash = s.put_file(&id, blob.clone()).await.unwrap();
    assert_eq!(hash, Sha256Hex::of(&blob));
    assert_eq!(s.get_file(&id, &hash).await.unwrap(), blob);
    let all_active = s.get_operations(&id, &tree, None, None).await.unwrap();
    s.convert_to_sqlite(&id).await.unwrap();
    assert_eq!(
        s.workspace_format(&id).await.unwrap(),
        StorageFormat::Sqlite
    );
    // Ops read from the archive (an indexed query) equal those of the active tier,
    // and reading them does not change the tier.
    let from_archive = s.get_operations(&id, &tree, None, None).await.unwrap();
    assert_eq!(from_archive, all_active, "{url}");
    let today_archived = s
        .get_operations(&id, &tree, Some(today), Some(today))
        .await
        .unwrap();
    assert_eq!(today_archived, ops, "{url}");
    assert_eq!(
        s.workspace_format(&id).await.unwrap(),
        StorageFormat::Sqlite
    );
    // Reading a file of an archived space unarchives it (on access).
    assert_eq!(s.get_file(&id, &hash).await.unwrap(), blob);
    assert_eq!(
        s.workspace_format(&id).await.unwrap(),
        StorageFormat::PlainFiles
    );
    s.convert_to_sqlite(&id).await.unwrap();
    s.convert_to_plain(&id).await.unwrap();
    assert_eq!(
        s.workspace_format(&id).await.unwrap(),
        StorageFormat::PlainFiles
    );
    // Sync: the client has our op and nothing else; it gets every other op.
    let missing = s
        .sync_workspace(&id, &tree, std::slice::from_ref(&op), None)
        .await
        .unwrap();
    assert!(!missing.iter().any(|o| o.id.peer == "api0peer"));
    let all = s.sync_workspace(&id, &tree, &[], None).await.unwrap();
    assert_eq!(all.len(), missing.len() + 1, "{url}");
    assert!(matches!(
        s.get_file(&id, &Sha256Hex::of(b"nothing")).await,
        Err(Error::NotFound(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_storage_api_on_every_store() {
    let t = TempDir::new();
    let fx = fixtures_dir().join("getting-started-complete");
    for (url, s) in stores(&t) {
        s.push(&fx).await.unwrap();
        storage_api_checks(&*s.engine, &fx, &url).await;
    }
}
