//! Running one case of the bad-input corpus through the real `sila-store` binary.
//!
//! The source sits alone in a folder that is read-only to the CLI (`chmod 0555`, and
//! when the tests run as root, the CLI runs as `nobody` through `setpriv`, since root
//! writes anywhere): reading must never write beside it. Every run has a memory cap
//! (`ulimit -v`) and a time limit (`timeout`), and is measured (`/usr/bin/time`, when
//! present): [`worst`] gives the longest run and the highest peak.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use sila_store_core::ids::Sha256Hex;

use super::recipes::build_recipe;
use crate::{sha256_listing, sila_store_bin, TempDir};

/// Memory cap of a `sila-store` run (virtual memory), unless a recipe sets
/// `memory_cap_mib`: 512 MiB, room for a reader that holds a 100 MB ops file a few
/// times over, and half of what any of the bombs (1 GiB) would take inflated whole.
pub const MEMORY_CAP_MIB: u64 = 512;
/// Time limit of a `sila-store` run, in seconds (a debug build on a shared machine).
pub const TIME_LIMIT_S: u64 = 300;

/// The folder of the corpus.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("bad-inputs")
}

/// One line of `expected.txt`: the case file, the code `verify` must report and the
/// code `convert` must fail with (`ok`: a hostile but valid input).
pub struct Case {
    /// The file in `tests/bad-inputs/`.
    pub file: String,
    /// The code `verify` reports.
    pub verify: String,
    /// The code `convert` fails with.
    pub convert: String,
}

/// Every case of `expected.txt`.
pub fn cases() -> Vec<Case> {
    let text = fs::read_to_string(corpus_dir().join("expected.txt")).expect("expected.txt");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut parts = l.split_whitespace();
            let file = parts.next().expect("file").to_string();
            let verify = parts.next().expect("code").to_string();
            let convert = parts.next().unwrap_or(&verify).to_string();
            Case {
                file,
                verify,
                convert,
            }
        })
        .collect()
}

/// The longest run and the highest peak (resident KiB) measured so far, with the
/// commands.
#[derive(Clone, Debug, Default)]
pub struct Worst {
    /// Seconds and the command of the longest run.
    pub time: (f64, String),
    /// KiB and the command of the highest peak.
    pub memory: (u64, String),
}

static WORST: Mutex<Option<Worst>> = Mutex::new(None);

/// What [`cli`] measured over every run so far.
pub fn worst() -> Worst {
    WORST
        .lock()
        .map(|w| w.clone().unwrap_or_default())
        .unwrap_or_default()
}

fn run_as_nobody() -> bool {
    static ROOT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ROOT.get_or_init(|| {
        let uid = Command::new("id").arg("-u").output().ok();
        let root = uid.is_some_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        root && Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "true"])
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Runs `sila-store WORD ARGS… --json` under the memory cap (MiB) and the time limit;
/// returns the exit status's success and the JSON it printed.
pub fn cli(
    cap_mib: u64,
    stats: &Path,
    args: &[&Path],
    words: &[&str],
) -> (bool, serde_json::Value) {
    let bin = sila_store_bin();
    let stat_file = stats.join("last");
    let timed = Path::new("/usr/bin/time").exists();
    let mut script = format!("ulimit -v {} && exec", cap_mib << 10);
    if run_as_nobody() {
        script.push_str(" setpriv --reuid=65534 --regid=65534 --clear-groups");
    }
    script.push_str(&format!(" timeout -s KILL {TIME_LIMIT_S}"));
    if timed {
        script.push_str(" /usr/bin/time -f '%e %M' -o \"$STAT\"");
    }
    script.push_str(" \"$0\" \"$@\"");
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script).arg(&bin).env("STAT", &stat_file);
    cmd.arg(words[0]);
    for a in args {
        cmd.arg(a);
    }
    cmd.args(&words[1..]).arg("--json");
    let out = cmd.output().expect("run sila-store");
    if timed {
        record(&stat_file, words, args);
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "sila-store {words:?} {args:?} printed no JSON (killed by the memory cap or the time limit?)\nstatus: {}\nstdout: {stdout}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), json)
}

fn record(stat_file: &Path, words: &[&str], args: &[&Path]) {
    let Ok(text) = fs::read_to_string(stat_file) else {
        return;
    };
    // The last line is "<seconds> <KiB>" (a line before it may say the command failed).
    let Some(last) = text.lines().last() else {
        return;
    };
    let mut parts = last.split_whitespace();
    let secs: f64 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0.0);
    let kib: u64 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let what = format!(
        "{} {}",
        words.join(" "),
        args.iter()
            .map(|a| a
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default())
            .collect::<Vec<_>>()
            .join(" ")
    );
    if let Ok(mut w) = WORST.lock() {
        let w = w.get_or_insert_with(Worst::default);
        if secs > w.time.0 {
            w.time = (secs, what.clone());
        }
        if kib > w.memory.0 {
            w.memory = (kib, what);
        }
    }
}

/// Every path under `p` with its bytes' hash (or its link target), links not followed.
pub fn snapshot_nofollow(p: &Path) -> BTreeMap<Vec<u8>, String> {
    fn walk(p: &Path, rel: Vec<u8>, out: &mut BTreeMap<Vec<u8>, String>) {
        let m = fs::symlink_metadata(p).expect("metadata");
        if m.file_type().is_symlink() {
            let target = fs::read_link(p).expect("read_link");
            out.insert(rel, format!("-> {}", target.display()));
        } else if m.is_dir() {
            for e in fs::read_dir(p).expect("read_dir") {
                let e = e.expect("entry");
                let mut r = rel.clone();
                r.push(b'/');
                r.extend_from_slice(e.file_name().as_encoded_bytes());
                walk(&e.path(), r, out);
            }
            out.insert(rel, "dir".into());
        } else {
            let bytes = fs::read(p).expect("read");
            out.insert(rel, Sha256Hex::of(&bytes).as_str().to_string());
        }
    }
    let mut out = BTreeMap::new();
    walk(p, Vec::new(), &mut out);
    out
}

/// The names in a folder, sorted.
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Where a case is materialised (in `dir`): the file itself, or what its recipe
/// builds; and the memory cap of its runs (MiB).
pub fn materialise(case: &Case, dir: &Path) -> (PathBuf, u64) {
    let src = corpus_dir().join(&case.file);
    match case.file.strip_suffix(".recipe.json") {
        None => {
            let to = dir.join(&case.file);
            fs::copy(&src, &to).expect("copy case");
            (to, MEMORY_CAP_MIB)
        }
        Some(name) => {
            let recipe: serde_json::Value =
                serde_json::from_slice(&fs::read(&src).expect("read recipe")).expect("recipe JSON");
            let to = dir.join(name);
            build_recipe(&recipe, &to);
            let cap = recipe["memory_cap_mib"].as_u64().unwrap_or(MEMORY_CAP_MIB);
            (to, cap)
        }
    }
}

fn format_of(p: &Path) -> &'static str {
    match p.extension().and_then(|e| e.to_str()) {
        Some("zip") => "zip",
        Some("db") => "sqlite",
        _ => "plain",
    }
}

#[cfg(unix)]
fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).expect("chmod");
}

#[cfg(not(unix))]
fn chmod(_: &Path, _: u32) {}

/// Runs one case: `verify`, `info`, `show`, and `convert` to every other format, from a
/// read-only folder; checks the codes, that nothing is left at or beside DST, and that
/// the source's folder (names and bytes) did not change.
pub fn run_case(case: &Case) -> Result<(), String> {
    let t = TempDir::new();
    let (src_dir, out, stats) = (t.join("src"), t.join("out"), t.join("stats"));
    for d in [&src_dir, &out, &stats] {
        fs::create_dir(d).expect("mkdir");
    }
    chmod(&out, 0o777);
    chmod(&stats, 0o777);
    let (src, cap) = materialise(case, &src_dir);
    let before = snapshot_nofollow(&src_dir);
    chmod(&src_dir, 0o555);
    let result = run_commands(case, &src, cap, &out, &stats);
    chmod(&src_dir, 0o755);
    result?;
    if snapshot_nofollow(&src_dir) != before {
        return Err("the source or its folder changed".into());
    }
    Ok(())
}

fn run_commands(case: &Case, src: &Path, cap: u64, out: &Path, stats: &Path) -> Result<(), String> {
    let cli = |args: &[&Path], words: &[&str]| cli(cap, stats, args, words);
    let (ok, report) = cli(&[src], &["verify"]);
    let codes: Vec<&str> = report["errors"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["code"].as_str()).collect())
        .unwrap_or_default();
    if let Some(first) = report["errors"].as_array().and_then(|a| a.first()) {
        eprintln!("  verify: {}", first["message"]);
    }
    if case.verify == "ok" {
        if !ok || !codes.is_empty() {
            return Err(format!("verify failed: {report}"));
        }
    } else if ok || !codes.contains(&case.verify.as_str()) {
        return Err(format!("verify gave {codes:?}, not {}", case.verify));
    }
    // `info` and `show` read less than `verify`: they may succeed on a bad input, but
    // a failure must be a typed one (and on a valid input there is none).
    for word in ["info", "show"] {
        let (ok, r) = cli(&[src], &[word]);
        let code = r["error"]["code"].as_str().unwrap_or("(none)");
        if case.verify == "ok" && !ok {
            return Err(format!("{word} failed: {r}"));
        }
        if !ok && matches!(code, "(none)" | "Io" | "Sqlite") {
            return Err(format!("{word} failed untyped: {r}"));
        }
    }
    let dsts: Vec<PathBuf> = ["plain", "sqlite", "zip"]
        .into_iter()
        .filter(|f| *f != format_of(src))
        .map(|f| match f {
            "plain" => out.join("dst"),
            "sqlite" => out.join("dst.db"),
            _ => out.join("dst.zip"),
        })
        .collect();
    for dst in &dsts {
        let (ok, result) = cli(&[src, dst], &["convert"]);
        if case.convert == "ok" {
            if !ok {
                return Err(format!("convert to {} failed: {result}", dst.display()));
            }
            let (ok, r) = cli(&[dst], &["verify"]);
            if !ok {
                return Err(format!("{} does not verify: {r}", dst.display()));
            }
            // Lossless: back to a folder, the same bytes as the source.
            if src.is_dir() {
                let back = out.join("back");
                let (ok, r) = cli(&[dst, &back], &["convert"]);
                if !ok {
                    return Err(format!("convert back failed: {r}"));
                }
                if sha256_listing(&back) != sha256_listing(src) {
                    return Err(format!("{} did not come back byte for byte", dst.display()));
                }
                fs::remove_dir_all(&back).expect("rm");
            }
            continue;
        }
        let code = result["error"]["code"].as_str().unwrap_or("(none)");
        if ok || code != case.convert {
            return Err(format!(
                "convert to {} gave {code}: {result}",
                dst.display()
            ));
        }
        if dst.exists() {
            return Err(format!("{} exists after a failed convert", dst.display()));
        }
        let left = names_in(out);
        if !left.is_empty() {
            return Err(format!("left behind after a failed convert: {left:?}"));
        }
    }
    Ok(())
}
