//! The `sila-store` binary as scripts use it: exit codes, `--json`, refusals.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sila-store"))
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name)
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run sila-store")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sila-store-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn convert_verify_info_ops_secrets() {
    let d = tmp("main");
    let rich = fixture("rich");
    let db = d.join("rich.db");
    let o = run(&[
        "convert",
        rich.to_str().unwrap(),
        db.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(report["files"], 40);
    assert_eq!(report["fromFormat"], "plain");
    assert_eq!(report["toFormat"], "sqlite");

    // A second convert to the same place is refused, with a typed error, unless --force.
    let o = run(&[
        "convert",
        rich.to_str().unwrap(),
        db.to_str().unwrap(),
        "--json",
    ]);
    assert!(!o.status.success());
    let err: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(err["error"]["code"], "AlreadyExists");
    assert!(run(&[
        "convert",
        rich.to_str().unwrap(),
        db.to_str().unwrap(),
        "--force"
    ])
    .status
    .success());

    let o = run(&["verify", db.to_str().unwrap()]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("OK"), "{}", stdout(&o));

    let o = run(&["info", db.to_str().unwrap(), "--json"]);
    let info: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(info["spaceId"], "b3ee88fc46bb4ac1bd8012feac0a7d6c");
    assert_eq!(info["ops"], 497);
    assert_eq!(info["staticFiles"], 7);
    assert_eq!(info["peers"], 4);

    let tree = "b3ee88fc46bb4ac1bd8012feac0a7d6c";
    let ops_of = |src: &Path| {
        let range = ["--from", "2026-03-11", "--to", "2026-03-14"];
        let mut args = vec!["ops", src.to_str().unwrap(), "--tree", tree];
        args.extend(range);
        run(&args)
    };
    let (a, b) = (ops_of(&rich), ops_of(&db));
    assert!(a.status.success() && !a.stdout.is_empty());
    assert_eq!(a.stdout, b.stdout);
    let j = run(&["ops", db.to_str().unwrap(), "--tree", tree, "--json"]);
    let first: serde_json::Value =
        serde_json::from_str(stdout(&j).lines().next().unwrap()).unwrap();
    assert!(
        first["counter"].is_u64() && first["day"].is_string(),
        "{first}"
    );

    let o = run(&["secrets", db.to_str().unwrap()]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("api-key-openai"));
    assert!(
        !stdout(&o).contains("sk-"),
        "values only with --show-values"
    );
    let o = run(&["secrets", db.to_str().unwrap(), "--show-values", "--json"]);
    let s: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(s["secrets"]["api-key-openai"].is_string());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn verify_fails_on_a_broken_workspace() {
    let d = tmp("broken");
    let db = d.join("w.db");
    assert!(run(&[
        "convert",
        fixture("legacy").to_str().unwrap(),
        db.to_str().unwrap()
    ])
    .status
    .success());
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute(
        // Every ops byte changed, sizes kept (the blocks stored raw).
        "UPDATE op_blocks SET deflated = 0, data = CAST(replace(hex(zeroblob(size)), '00', 'x') AS BLOB)",
        [],
    )
    .unwrap();
    drop(c);
    let o = run(&["verify", db.to_str().unwrap(), "--json"]);
    assert!(!o.status.success());
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(r["ok"], false);
    let code = r["errors"][0]["code"].as_str().unwrap();
    assert!(code == "HashMismatch" || code == "SizeMismatch", "{code}");
    let o = run(&["verify", d.join("missing.zip").to_str().unwrap()]);
    assert!(!o.status.success());
    let o = run(&["ops", db.to_str().unwrap(), "--tree", "../etc"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("InvalidId"));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn tiers_from_the_command_line() {
    let d = tmp("tiers");
    let store = format!("file://{}", d.join("store").display());
    let rich = fixture("rich");
    let id = "b3ee88fc46bb4ac1bd8012feac0a7d6c";
    let o = run(&["push", rich.to_str().unwrap(), &store, "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(r["transferred"], 40);
    let o = run(&[
        "sweep",
        "--store",
        &store,
        "--inactive-days",
        "0",
        "--dry-run",
    ]);
    assert!(stdout(&o).contains("would archive"), "{}", stdout(&o));
    assert!(run(&["archive", id, "--store", &store]).status.success());
    let out = d.join("pulled");
    let o = run(&["pull", &store, id, out.to_str().unwrap(), "--unarchive"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(&["verify", out.to_str().unwrap()]);
    assert!(o.status.success());
    // sync: one new op on stdin; the reply is the ops the client lacks.
    let mut child = bin()
        .args(["sync", "--store", &store, id, id])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"[{"id":{"counter":9000,"peerId":"cli"},"targetId":"b3ee88fc46bb4ac1bd8012feac0a7d6c","key":"x","value":1,"transient":false}]"#)
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    let missing: Vec<serde_json::Value> = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(missing.len() > 100);
    assert!(missing.iter().all(|m| m["id"]["peerId"] != "cli"));
    let _ = std::fs::remove_dir_all(&d);
}

/// Every file under `root`, by relative path, with its bytes.
fn files_under(root: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Under a tight address-space limit (`ulimit -v`) the folder is written without
/// writer threads, and holds the same bytes.
#[cfg(unix)]
#[test]
fn extraction_under_an_address_space_limit_writes_the_same_files() {
    let d = tmp("tight");
    let rich = fixture("rich");
    let db = d.join("rich.db");
    assert!(
        run(&["convert", rich.to_str().unwrap(), db.to_str().unwrap()])
            .status
            .success()
    );
    let (free, tight) = (d.join("free"), d.join("tight"));
    assert!(
        run(&["convert", db.to_str().unwrap(), free.to_str().unwrap()])
            .status
            .success()
    );
    let o = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 524288 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_sila-store"))
        .args(["convert", db.to_str().unwrap(), tight.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (a, b) = (files_under(&free), files_under(&tight));
    assert_eq!(a.len(), 40);
    assert!(a == b, "the folders differ");
    let _ = std::fs::remove_dir_all(&d);
}
