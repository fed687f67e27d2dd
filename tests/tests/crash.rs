//! Crash tests on the filesystem: the real `sila-store` binary is killed (SIGKILL) at
//! random points of `convert`, `archive` and `unarchive`, many times, and after every
//! kill the source must be untouched and the destination either absent or complete and
//! verifiable: never a half-written file under its final name.
//!
//! The kill points are uniform over the length of an unkilled run (measured first), so
//! they land in every phase: startup, writing the temporary file, reading it back,
//! the rename, and after. `SILA_STORE_CRASH_KILLS` sets the number of kills per route
//! (default 30), `SILA_STORE_CRASH_SEED` replays a run (the seed is printed).
//!
//! `archive`/`unarchive` run against a local store (`file://`), and also against the
//! S3-compatible server of `scripts/s3-server` when `SILA_STORE_S3` names one.
#![cfg(unix)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use object_store::{ObjectStore, ObjectStoreExt};
use sila_store_core::entries::{listing, Listing};
use sila_store_core::inspect;
use sila_store_native::fs::PlainSource;
use sila_store_native::tiers::{Tier, TierStore};
use sila_store_native::{convert, with_source, ConvertOptions};
use sila_store_tests::{
    add_cas_file, copy_dir, fixtures_dir, incompressible, sha256_listing, sila_store_bin, snapshot,
    TempDir,
};

/// A small, seeded xorshift generator: kill points are reproducible from the seed.
struct Rng(u64);

impl Rng {
    fn from_env() -> Self {
        let seed = std::env::var("SILA_STORE_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
                    | 1
            });
        eprintln!("SILA_STORE_CRASH_SEED={seed}");
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A delay uniform in `[0, max]`.
    fn delay(&mut self, max: Duration) -> Duration {
        let micros = max.as_micros().max(1) as u64;
        Duration::from_micros(self.next() % (micros + 1))
    }
}

fn kills() -> usize {
    std::env::var("SILA_STORE_CRASH_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30)
}

fn cli() -> Command {
    let mut c = Command::new(sila_store_bin());
    c.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// Runs `cmd` to the end; returns how long it took.
fn run_whole(mut cmd: Command) -> Duration {
    let start = Instant::now();
    let out = cmd.stderr(Stdio::piped()).output().expect("run sila-store");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    start.elapsed()
}

/// Starts `cmd`, kills it with SIGKILL after `delay`; returns whether it was still
/// running then (killed mid-run) rather than finished.
fn run_and_kill(mut cmd: Command, delay: Duration) -> bool {
    let mut child = cmd.spawn().expect("spawn sila-store");
    std::thread::sleep(delay);
    let running = child.try_wait().expect("try_wait").is_none();
    // SIGKILL on Unix; an error only means it had exited already.
    let _ = child.kill();
    child.wait().expect("wait");
    running
}

/// The workspace the tests convert: the `rich` fixture plus a 6 MiB incompressible
/// blob, so that writing takes long enough for kills to land inside it.
fn workspace(t: &TempDir) -> PathBuf {
    let ws = t.join("ws");
    copy_dir(&fixtures_dir().join("rich"), &ws);
    add_cas_file(&ws, &incompressible(6 << 20, 0x2545_f491_4f6c_dd1d));
    ws
}

fn listing_of(p: &Path) -> Listing {
    with_source(p, |s| listing(s, &mut |_| {})).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The destination is absent, or a complete workspace: it verifies and holds exactly
/// the source's files. Returns whether it exists.
fn check_destination(dst: &Path, expected: &Listing) -> bool {
    if fs::symlink_metadata(dst).is_err() {
        return false;
    }
    let report = with_source(dst, |s| Ok(inspect::verify(s, &mut |_| {})))
        .unwrap_or_else(|e| panic!("{} exists but does not open: {e}", dst.display()));
    assert!(
        report.ok,
        "{} exists but does not verify: {:?}",
        dst.display(),
        report.errors
    );
    assert_eq!(
        &listing_of(dst),
        expected,
        "{} exists but is not the source",
        dst.display()
    );
    true
}

/// Removes what a killed conversion left beside `dst` (`.<name>.sila-store-tmp-…`,
/// `.<name>.sila-store-old-…`); returns how many of each.
fn sweep_leftovers(dst: &Path) -> (usize, usize) {
    let name = dst
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let (mut tmp, mut old) = (0, 0);
    for e in fs::read_dir(dst.parent().expect("parent")).expect("read_dir") {
        let e = e.expect("entry");
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with(&format!(".{name}.sila-store-tmp-")) {
            tmp += 1;
        } else if n.starts_with(&format!(".{name}.sila-store-old-")) {
            old += 1;
        } else {
            continue;
        }
        let p = e.path();
        if p.is_dir() {
            fs::remove_dir_all(&p).expect("rm");
        } else {
            fs::remove_file(&p).expect("rm");
        }
    }
    (tmp, old)
}

#[test]
fn convert_killed_at_random_points_never_leaves_a_partial_destination() {
    let mut rng = Rng::from_env();
    let t = TempDir::new();
    let ws = workspace(&t);
    let expected = listing_of(&ws);
    for (name, ext) in [("src.db", "db"), ("src.zip", "zip")] {
        convert(&ws, &t.join(name), ConvertOptions::default(), &mut |_| {})
            .unwrap_or_else(|e| panic!("{ext}: {e}"));
    }
    let routes = [
        (ws.clone(), t.join("out.db")),
        (ws.clone(), t.join("out.zip")),
        (t.join("src.db"), t.join("out-folder")),
        (t.join("src.zip"), t.join("out-from-zip.db")),
        (t.join("src.db"), t.join("out-from-db.zip")),
        (t.join("src.zip"), t.join("out-from-zip")),
    ];
    for (src, dst) in routes {
        let before = snapshot(&src);
        let command = |force: bool| {
            let mut c = cli();
            c.arg("convert").arg(&src).arg(&dst);
            if force {
                c.arg("--force");
            }
            c
        };
        let whole = run_whole(command(false));
        assert!(check_destination(&dst, &expected));
        let (mut mid_run, mut complete, mut absent, mut tmp_left, mut old_left) = (0, 0, 0, 0, 0);
        for i in 0..kills() {
            // A complete destination from the last round stays: then --force replaces it.
            let force = dst.exists();
            let delay = if i == 0 {
                Duration::ZERO
            } else {
                rng.delay(whole + whole / 5)
            };
            if run_and_kill(command(force), delay) {
                mid_run += 1;
            }
            assert_eq!(before, snapshot(&src), "the source changed");
            if check_destination(&dst, &expected) {
                complete += 1;
            } else {
                absent += 1;
            }
            let (tmp, old) = sweep_leftovers(&dst);
            tmp_left += tmp;
            old_left += old;
            // Sometimes start again from no destination.
            if rng.next().is_multiple_of(3) && dst.exists() {
                if dst.is_dir() {
                    fs::remove_dir_all(&dst).expect("rm");
                } else {
                    fs::remove_file(&dst).expect("rm");
                }
            }
        }
        eprintln!(
            "convert {} -> {}: run {whole:?}; {mid_run} killed mid-run; destination complete {complete}, absent {absent}; left beside it: {tmp_left} temporary, {old_left} old",
            src.file_name().expect("name").to_string_lossy(),
            dst.file_name().expect("name").to_string_lossy(),
        );
    }
}

/// A store for the tier crash test: a local folder, or the S3 server's bucket.
struct Store {
    url: String,
    local: Option<PathBuf>,
}

fn stores(t: &TempDir) -> Vec<Store> {
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let local = t.join("store");
    let mut v = vec![Store {
        url: format!("file://{}", local.display()),
        local: Some(local),
    }];
    match std::env::var("SILA_STORE_S3") {
        Ok(s3) => v.push(Store {
            // A prefix of its own per call (tests of one process run at once), short:
            // s3s-fs fails on keys much over 160 bytes.
            url: format!(
                "{}/c{:x}-{}",
                s3.trim_end_matches('/'),
                std::process::id(),
                CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ),
            local: None,
        }),
        Err(_) => {
            assert!(
                std::env::var_os("SILA_STORE_REQUIRE_S3").is_none(),
                "SILA_STORE_REQUIRE_S3 is set but SILA_STORE_S3 is not"
            );
            eprintln!("no SILA_STORE_S3 (scripts/s3-server sets it): file:// only")
        }
    }
    v
}

fn files_named_with(dir: &Path, mark: char) -> usize {
    let mut n = 0;
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                n += files_named_with(&p, mark);
            } else if e.file_name().to_string_lossy().contains(mark) {
                n += 1;
            }
        }
    }
    n
}

// `archive` and `unarchive` killed at random points, 2 × SILA_STORE_CRASH_KILLS times per
// store: on a local store (`file://`) and on the S3 server (`SILA_STORE_S3`), each in two
// tests of SILA_STORE_CRASH_KILLS kills, so that a parallel runner runs the four at once.
// After every kill the metadata names a tier that holds the whole space.

/// On a local store, first half of the kills.
#[test]
fn archive_and_unarchive_killed_at_random_points_never_lose_the_space_local_1() {
    archive_and_unarchive_killed_at_random_points(0);
}

/// On a local store, second half of the kills.
#[test]
fn archive_and_unarchive_killed_at_random_points_never_lose_the_space_local_2() {
    archive_and_unarchive_killed_at_random_points(0);
}

/// On the S3 server, first half of the kills.
#[test]
fn archive_and_unarchive_killed_at_random_points_never_lose_the_space_s3_1() {
    archive_and_unarchive_killed_at_random_points(1);
}

/// On the S3 server, second half of the kills.
#[test]
fn archive_and_unarchive_killed_at_random_points_never_lose_the_space_s3_2() {
    archive_and_unarchive_killed_at_random_points(1);
}

/// Archive and unarchive, killed [`kills`] times at random points, on the `which`-th of
/// [`stores`].
fn archive_and_unarchive_killed_at_random_points(which: usize) {
    let mut rng = Rng::from_env();
    let t = TempDir::new();
    let ws = workspace(&t);
    let expected = sha256_listing(&ws);
    let id = {
        let mut s = PlainSource::open(&ws).expect("open");
        sila_store_core::entries::read_space_id(&mut s)
            .expect("space.json")
            .expect("space id")
    };
    // The children's scratch space (a killed child cannot remove its own).
    let scratch = t.join("scratch");
    fs::create_dir(&scratch).expect("mkdir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for store in stores(&t).into_iter().skip(which).take(1) {
        let tiers = TierStore::open(&store.url).expect("open store");
        let command = |what: &str| {
            let mut c = cli();
            c.env("TMPDIR", &scratch)
                .arg(what)
                .arg(&id)
                .arg("--store")
                .arg(&store.url);
            c
        };
        let mut push = cli();
        push.arg("push").arg(&ws).arg(&store.url);
        run_whole(push);
        let archive_time = run_whole(command("archive"));
        let unarchive_time = run_whole(command("unarchive"));
        let mut pulls = 0;
        // After every kill: the metadata names a tier that holds the whole space, and
        // an archive object, if there is one, is a complete archive.
        let mut check = || {
            let (meta, _) = rt
                .block_on(tiers.read_metadata(&id))
                .expect("metadata reads")
                .expect("metadata exists");
            pulls += 1;
            let dir = t.join(&format!("pull-{pulls}"));
            rt.block_on(tiers.pull(&id, &dir))
                .unwrap_or_else(|e| panic!("pull after a kill ({:?}): {e}", meta.tier));
            assert_eq!(sha256_listing(&dir), expected, "pulled space differs");
            fs::remove_dir_all(&dir).expect("rm");
            // Every archive object there is (the one the metadata names, and any a
            // killed run left) is a complete archive: objects appear whole or not at all.
            let prefix = tiers.key(&format!("archived/{id}"));
            let objects = rt
                .block_on(tiers.store.list_with_delimiter(Some(&prefix)))
                .expect("list archives")
                .objects;
            for o in objects {
                let r = rt
                    .block_on(tiers.store.get(&o.location))
                    .expect("get archive");
                let bytes = rt.block_on(r.bytes()).expect("archive bytes");
                let db = t.join("archive-object.db");
                fs::write(&db, &bytes).expect("write");
                assert!(check_destination(&db, &listing_of(&ws)), "{}", o.location);
                fs::remove_file(&db).expect("rm");
            }
            meta
        };
        let (mut mid_run, mut archived, mut active) = (0, 0, 0);
        let mut meta = check();
        for i in 0..kills() {
            let (what, whole) = if meta.tier == Tier::Active || meta.cleanup_since_ms.is_some() {
                ("archive", archive_time)
            } else {
                ("unarchive", unarchive_time)
            };
            let delay = if i < 2 {
                Duration::ZERO
            } else {
                rng.delay(whole + whole / 5)
            };
            if run_and_kill(command(what), delay) {
                mid_run += 1;
            }
            meta = check();
            match meta.tier {
                Tier::Archived => archived += 1,
                Tier::Active => active += 1,
            }
        }
        // Running the commands to the end finishes whatever a kill left.
        run_whole(command("archive"));
        let meta = check();
        assert_eq!(meta.tier, Tier::Archived);
        assert!(meta.cleanup_since_ms.is_none());
        run_whole(command("unarchive"));
        let meta = check();
        assert_eq!(meta.tier, Tier::Active);
        let staged = store.local.as_deref().map(|l| files_named_with(l, '#'));
        eprintln!(
            "{}: archive {archive_time:?}, unarchive {unarchive_time:?}; {mid_run} killed mid-run; then archived {archived}, active {active}; staging files left by kills: {staged:?}; scratch folders left: {}",
            store.url,
            fs::read_dir(&scratch).expect("read_dir").count()
        );
    }
}

/// `pull` of an archived space into the folder that holds it (with a file of the
/// user's beside the workspace), killed at random points: the user's file is never
/// lost or changed, every file of the space under its final name is whole (the
/// space's bytes), and a rerun finishes with the space complete.
#[test]
fn pull_killed_at_random_points_never_loses_the_users_files() {
    let mut rng = Rng::from_env();
    let t = TempDir::new();
    let ws = workspace(&t);
    let expected = sha256_listing(&ws);
    let id = {
        let mut s = PlainSource::open(&ws).expect("open");
        sila_store_core::entries::read_space_id(&mut s)
            .expect("space.json")
            .expect("space id")
    };
    let scratch = t.join("scratch");
    fs::create_dir(&scratch).expect("mkdir");
    let url = format!("file://{}", t.join("store").display());
    let mut push = cli();
    push.arg("push").arg(&ws).arg(&url);
    run_whole(push);
    let mut archive = cli();
    archive.arg("archive").arg(&id).arg("--store").arg(&url);
    run_whole(archive);

    let dst = t.join("mine");
    copy_dir(&ws, &dst);
    let notes = b"my own notes, not the space's".to_vec();
    fs::write(dst.join("notes.txt"), &notes).expect("write notes");
    let pull = || {
        let mut c = cli();
        c.env("TMPDIR", &scratch)
            .arg("pull")
            .arg(&url)
            .arg(&id)
            .arg(&dst);
        c
    };
    let check = || {
        assert_eq!(
            fs::read(dst.join("notes.txt")).expect("the user's file is there"),
            notes
        );
        for (path, hash) in sha256_listing(&dst) {
            if path == "notes.txt" || path.contains(".sila-store-") {
                continue;
            }
            assert_eq!(
                expected.get(&path),
                Some(&hash),
                "{path} is not the space's file"
            );
        }
    };
    let whole = run_whole(pull());
    check();
    let mut mid_run = 0;
    for _ in 0..kills() {
        if run_and_kill(pull(), rng.delay(whole + whole / 5)) {
            mid_run += 1;
        }
        check();
    }
    run_whole(pull());
    check();
    let mut after = sha256_listing(&dst);
    after.retain(|p, _| p != "notes.txt");
    assert_eq!(after, expected, "a rerun completes the space");
    eprintln!(
        "pull: {whole:?} unkilled; {mid_run} of {} kills mid-run",
        kills()
    );
}
