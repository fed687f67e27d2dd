//! Tiers against hostile stores and careless users (issue 14, classes 8, 10, 11), on
//! every store of [`tier_stores`] (memory, `file://`, S3 when `SILA_STORE_S3` is set):
//!
//! * a pull writes only into an absent or empty folder or a workspace of the same
//!   space, in either tier; anything else is refused and left byte for byte as it was,
//!   and files of the space's own workspace that the space lacks stay;
//! * what is pulled must be the space asked for: metadata naming another space, an
//!   index or an archive whose `space.json` names another space, or metadata of another
//!   format or version, is a typed error and nothing is written at the destination;
//! * one unreadable metadata object does not stop a sweep: it is reported as failed
//!   and the healthy idle spaces are archived.

use std::fs;
use std::path::Path;

use object_store::{ObjectStoreExt, PutPayload};
use sila_store_core::store::WorkspaceStore as _;
use sila_store_core::Error;
use sila_store_native::tiers::{IndexEntry, Tier, TierStore};
use sila_store_tests::{sha256_listing, snapshot, tier_stores, TempDir};

const A: &str = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
const B: &str = "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2";
const C: &str = "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3";

/// A small workspace of space `id` at `dir`: `sila.md`, `space.json`, a root with a
/// name, a CAS file.
fn workspace(dir: &Path, id: &str) {
    let ops = dir.join(format!("space-v1/ops/{}/{}/2026/01/02", &id[..2], &id[2..]));
    fs::create_dir_all(&ops).unwrap();
    fs::write(dir.join("sila.md"), "# Sila Space\n").unwrap();
    fs::write(
        dir.join("space-v1/space.json"),
        format!("{{\"id\":\"{id}\"}}"),
    )
    .unwrap();
    fs::write(ops.join("aa11-m.jsonl"), format!("[1,\"{id}\",null]\n")).unwrap();
    fs::write(
        ops.join("aa11-p.jsonl"),
        format!("[2,\"{id}\",\"name\",\"space {id}\"]\n"),
    )
    .unwrap();
    sila_store_tests::add_cas_file(dir, id.as_bytes());
}

/// The names in a folder (to see that nothing was left beside a destination).
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

async fn push(s: &TierStore, t: &TempDir, id: &str) {
    let src = t.join(&format!("src-{id}"));
    if !src.exists() {
        workspace(&src, id);
    }
    s.push(&src).await.unwrap();
}

async fn raw_put(s: &TierStore, key: &str, bytes: Vec<u8>) {
    s.store
        .put(&s.key(key), PutPayload::from(bytes))
        .await
        .unwrap();
}

async fn raw_get(s: &TierStore, key: &str) -> Vec<u8> {
    s.store
        .get(&s.key(key))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

/// Folders a pull of space A must refuse, each built in a fresh folder under `base`.
fn refused_targets(base: &Path, t: &TempDir) -> Vec<std::path::PathBuf> {
    fs::create_dir_all(base).unwrap();
    // The user's own files.
    let user = base.join("user");
    fs::create_dir_all(user.join("notes")).unwrap();
    fs::write(user.join("todo.txt"), "mine").unwrap();
    fs::write(user.join("notes/a.md"), "also mine").unwrap();
    // A workspace of another space.
    let other = base.join("other-space");
    workspace(&other, B);
    fs::write(other.join("mine.txt"), "mine").unwrap();
    // A file named like the destination.
    let file = base.join("a-file");
    fs::write(&file, "not a folder").unwrap();
    // Something that looks like a workspace, without a space.json.
    let lookalike = base.join("lookalike");
    fs::create_dir_all(lookalike.join("space-v1")).unwrap();
    fs::write(lookalike.join("sila.md"), "my own sila.md").unwrap();
    // A space.json that is not JSON.
    let broken = base.join("broken");
    fs::create_dir_all(broken.join("space-v1")).unwrap();
    fs::write(broken.join("space-v1/space.json"), "{not json").unwrap();
    let _ = t;
    vec![user, other, file, lookalike, broken]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_never_writes_into_a_folder_that_is_not_the_space() {
    let t = TempDir::new();
    for (url, s) in tier_stores(&t) {
        push(&s, &t, A).await;
        let src = t.join(&format!("src-{A}"));
        for tier in [Tier::Archived, Tier::Active] {
            if tier == Tier::Archived {
                s.archive(A).await.unwrap();
            } else {
                s.unarchive(A).await.unwrap();
            }
            let base = t.join(&format!("targets-{}-{tier:?}", url.len()));
            for dir in refused_targets(&base, &t) {
                let before = snapshot(&dir);
                let listing = names(&base);
                for unarchive in [false, true] {
                    let r = if unarchive {
                        s.open_space(A, &dir).await
                    } else {
                        s.pull(A, &dir).await
                    };
                    assert!(
                        matches!(r, Err(Error::InvalidArgument(_))),
                        "{url} {tier:?} {}: {r:?}",
                        dir.display()
                    );
                    assert_eq!(snapshot(&dir), before, "{url} {}", dir.display());
                    assert_eq!(names(&base), listing, "{url}: left something beside");
                }
                // The refusal came before any tier change.
                assert_eq!(s.read_metadata(A).await.unwrap().unwrap().0.tier, tier);
            }
            // Accepted: absent, empty, and the space's own workspace with extra files
            // and a stale file.
            let absent = base.join("absent");
            s.pull(A, &absent).await.unwrap();
            assert_eq!(sha256_listing(&absent), sha256_listing(&src), "{url}");
            let empty = base.join("empty");
            fs::create_dir(&empty).unwrap();
            s.pull(A, &empty).await.unwrap();
            assert_eq!(sha256_listing(&empty), sha256_listing(&src), "{url}");
            let own = base.join("own");
            fs::create_dir(&own).unwrap();
            s.pull(A, &own).await.unwrap();
            fs::write(own.join("mine.txt"), "kept").unwrap();
            fs::write(own.join("sila.md"), "stale").unwrap();
            let r = s.pull(A, &own).await.unwrap();
            assert_eq!(
                r.transferred, 1,
                "{url} {tier:?}: only the stale file moves"
            );
            assert_eq!(fs::read(own.join("mine.txt")).unwrap(), b"kept");
            fs::remove_file(own.join("mine.txt")).unwrap();
            assert_eq!(sha256_listing(&own), sha256_listing(&src), "{url}");
            let mut left = names(&base);
            left.retain(|n| n.starts_with('.'));
            assert!(left.is_empty(), "{url}: temporary files left: {left:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_gets_the_space_it_asked_for_or_nothing() {
    let t = TempDir::new();
    for (url, s) in tier_stores(&t) {
        push(&s, &t, A).await;
        push(&s, &t, B).await;
        push(&s, &t, C).await;
        let out = t.join(&format!("out-{}", url.len()));
        fs::create_dir_all(&out).unwrap();
        let refused = |what: &str, r: Result<_, Error>, code: &str| {
            let e = r.expect_err(what);
            assert_eq!(e.code(), code, "{url} {what}: {e}");
            assert!(
                names(&out).is_empty(),
                "{url} {what}: wrote {:?}",
                names(&out)
            );
        };
        let meta_a = raw_get(&s, &format!("metadata/{A}.json")).await;

        // 1. metadata/A.json is B's metadata: in the active tier, then archived.
        for archived in [false, true] {
            if archived {
                s.archive(B).await.unwrap();
            }
            let meta_b = raw_get(&s, &format!("metadata/{B}.json")).await;
            raw_put(&s, &format!("metadata/{A}.json"), meta_b).await;
            refused("metadata of B", s.pull(A, &out.join("a")).await, "Corrupt");
            refused("metadata of B", s.archive(A).await, "Corrupt");
            refused(
                "metadata of B",
                s.open_space(A, &out.join("a")).await,
                "Corrupt",
            );
            raw_put(&s, &format!("metadata/{A}.json"), meta_a.clone()).await;
        }

        // 2. A's index and object of space.json say B (an active space).
        let (mut meta, _) = s.read_metadata(A).await.unwrap().unwrap();
        let key = format!("active/{A}/{}/space-v1/space.json", meta.epoch);
        let original = raw_get(&s, &key).await;
        let fake = format!("{{\"id\":\"{B}\"}}").into_bytes();
        raw_put(&s, &key, fake.clone()).await;
        meta.files
            .insert("space-v1/space.json".into(), IndexEntry::of(&fake));
        let (_, v) = s.read_metadata(A).await.unwrap().unwrap();
        s.write_metadata(&meta, Some(&v)).await.unwrap();
        refused(
            "space.json of B",
            s.pull(A, &out.join("a")).await,
            "Corrupt",
        );
        // Archiving it would store B's space.json under A: refused too.
        refused("space.json of B", s.archive(A).await, "Corrupt");
        // And a space.json without an id.
        let no_id = b"{\"name\":\"x\"}".to_vec();
        raw_put(&s, &key, no_id.clone()).await;
        let (mut meta, v) = s.read_metadata(A).await.unwrap().unwrap();
        meta.files
            .insert("space-v1/space.json".into(), IndexEntry::of(&no_id));
        s.write_metadata(&meta, Some(&v)).await.unwrap();
        refused(
            "space.json without id",
            s.pull(A, &out.join("a")).await,
            "Corrupt",
        );
        raw_put(&s, &key, original.clone()).await;
        let (mut meta, v) = s.read_metadata(A).await.unwrap().unwrap();
        meta.files
            .insert("space-v1/space.json".into(), IndexEntry::of(&original));
        s.write_metadata(&meta, Some(&v)).await.unwrap();

        // 3. A is archived, but its archive object is C's archive.
        s.archive(A).await.unwrap();
        s.archive(C).await.unwrap();
        let (meta_c, _) = s.read_metadata(C).await.unwrap().unwrap();
        let info_c = meta_c.archive.clone().unwrap();
        let db_c = raw_get(&s, &format!("archived/{C}/{}", info_c.name)).await;
        let (mut meta, v) = s.read_metadata(A).await.unwrap().unwrap();
        let mut info = meta.archive.clone().unwrap();
        raw_put(&s, &format!("archived/{A}/{}", info.name), db_c).await;
        info.size = info_c.size;
        info.sha256 = info_c.sha256.clone();
        meta.archive = Some(info);
        s.write_metadata(&meta, Some(&v)).await.unwrap();
        refused("archive of C", s.pull(A, &out.join("a")).await, "Corrupt");
        refused("archive of C", s.unarchive(A).await, "Corrupt");
        assert_eq!(
            s.read_metadata(A).await.unwrap().unwrap().0.tier,
            Tier::Archived
        );

        // 4. Metadata of another format or version.
        let mut m: serde_json::Value = serde_json::from_slice(&meta_a).unwrap();
        m["version"] = 2.into();
        raw_put(
            &s,
            &format!("metadata/{A}.json"),
            m.to_string().into_bytes(),
        )
        .await;
        refused(
            "metadata version 2",
            s.pull(A, &out.join("a")).await,
            "UnsupportedVersion",
        );
        m["version"] = 1.into();
        m["format"] = "something-else".into();
        raw_put(
            &s,
            &format!("metadata/{A}.json"),
            m.to_string().into_bytes(),
        )
        .await;
        refused("another format", s.pull(A, &out.join("a")).await, "Corrupt");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_metadata_object_does_not_stop_a_sweep() {
    let t = TempDir::new();
    for (url, s) in tier_stores(&t) {
        push(&s, &t, A).await;
        push(&s, &t, B).await;
        push(&s, &t, C).await;
        // Four bad metadata objects beside the healthy ones: not JSON, JSON without
        // the fields, metadata naming another space, a name that is no space id (too short).
        let meta_a = raw_get(&s, &format!("metadata/{A}.json")).await;
        let bad = [
            ("d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4", b"{not json".to_vec()),
            (
                "e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5",
                b"{\"format\":1}".to_vec(),
            ),
            ("f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6", meta_a.clone()),
            ("ab", meta_a.clone()),
        ];
        for (id, bytes) in &bad {
            raw_put(&s, &format!("metadata/{id}.json"), bytes.clone()).await;
        }
        let dry = s.sweep(0, true, 2).await.unwrap();
        let items = s.sweep(0, false, 2).await.unwrap();
        for list in [&dry, &items] {
            for (id, _) in &bad {
                let item = list
                    .iter()
                    .find(|i| i.space_id == *id)
                    .unwrap_or_else(|| panic!("{url}: {id} not in the summary: {list:?}"));
                assert!(item.outcome.starts_with("failed"), "{url}: {item:?}");
            }
        }
        for id in [A, B, C] {
            let item = items.iter().find(|i| i.space_id == id).unwrap();
            assert_eq!(item.outcome, "archived", "{url}: {items:?}");
            assert_eq!(
                s.read_metadata(id).await.unwrap().unwrap().0.tier,
                Tier::Archived
            );
        }
        // The bad objects are left as they were.
        for (id, bytes) in &bad {
            assert_eq!(&raw_get(&s, &format!("metadata/{id}.json")).await, bytes);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_space_without_space_json_pulls_again_into_its_own_folder() {
    // A space only synced (Sila's server) has ops but no space.json: its folder is
    // told by the space tree's ops folder; another space's is still refused.
    let t = TempDir::new();
    for (url, s) in tier_stores(&t) {
        let d = "d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4";
        let op: sila_store_native::tiers::WireOp = serde_json::from_value(serde_json::json!(
            {"id": {"counter": 1, "peerId": "p1"}, "targetId": d, "parentId": null}
        ))
        .unwrap();
        let tree = sila_store_core::ids::TreeId::new(d).unwrap();
        s.sync_tree(d, &tree, &[op], None).await.unwrap();
        let out = t.join(&format!("synced-{}", url.len()));
        s.pull(d, &out).await.unwrap();
        assert!(!out.join("space-v1/space.json").exists());
        let again = s.pull(d, &out).await.unwrap();
        assert_eq!(again.transferred, 0, "{url}");
        // The folder of space D is not a folder of space A.
        push(&s, &t, A).await;
        let before = snapshot(&out);
        let r = s.pull(A, &out).await;
        assert!(matches!(r, Err(Error::InvalidArgument(_))), "{url}: {r:?}");
        assert_eq!(snapshot(&out), before);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_that_appends_keeps_lines_written_behind_the_index() {
    // A push writes an ops file the local copy only extends with one request,
    // conditional on the version the index names; a writer that changed the object
    // without updating the index (a sync that lost the metadata race) makes that
    // condition fail, and the push merges instead: no line is lost.
    let t = TempDir::new();
    let rel = format!(
        "space-v1/ops/{}/{}/2026/01/02/aa11-p.jsonl",
        &A[..2],
        &A[2..]
    );
    for (url, s) in tier_stores(&t) {
        let src = t.join(&format!("behind-{}", url.len()));
        workspace(&src, A);
        s.push(&src).await.unwrap();
        let (meta, _) = s.read_metadata(A).await.unwrap().unwrap();
        assert!(meta.files[&rel].version.is_some(), "{url}: no version");
        let key = format!("active/{A}/{}/{rel}", meta.epoch);
        let mut behind = raw_get(&s, &key).await;
        behind.extend_from_slice(format!("[3,\"{A}\",\"x\",\"server\"]\n").as_bytes());
        raw_put(&s, &key, behind).await;
        let local = src.join(&rel);
        let mut bytes = fs::read(&local).unwrap();
        bytes.extend_from_slice(format!("[4,\"{A}\",\"x\",\"client\"]\n").as_bytes());
        fs::write(&local, &bytes).unwrap();
        s.push(&src).await.unwrap();
        let out = t.join(&format!("behind-out-{}", url.len()));
        s.pull(A, &out).await.unwrap();
        let text = fs::read_to_string(out.join(&rel)).unwrap();
        assert!(
            text.contains("\"server\"") && text.contains("\"client\""),
            "{url}: {text}"
        );
        // And the next append is one conditional write again.
        let (meta, _) = s.read_metadata(A).await.unwrap().unwrap();
        assert!(meta.files[&rel].version.is_some(), "{url}: no version");
        // An archive deletes the indexed objects without listing them, and what the
        // index does not name by one listing.
        let stray = format!("active/{A}/{}/space-v1/stray.bin", meta.epoch);
        raw_put(&s, &stray, b"x".to_vec()).await;
        s.archive(A).await.unwrap();
        let left = s
            .engine
            .store()
            .list(&format!("active/{A}/"))
            .await
            .unwrap();
        assert!(left.is_empty(), "{url}: {left:?}");
    }
}
