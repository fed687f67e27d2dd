//! Issue 14, classes 9 and 12.
//!
//! * `convert` never replaces what is at DST without `--force`, even what appeared
//!   there while it ran: a file or folder created at DST during the conversion stays
//!   as it is (`AlreadyExists`, no temporary file left), and of two conversions to
//!   one DST exactly one wins. The final move is a no-replace rename; its portable
//!   fallback refuses too.
//! * A closed stdout (`sila-store show --json | head -1`) ends every printing command
//!   quietly with status 141 (as a Unix tool ended by SIGPIPE), never a panic.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};

use sila_store_core::entries::Progress;
use sila_store_native::fs::{rename_no_replace, rename_no_replace_portable};
use sila_store_native::{convert, ConvertOptions};
use sila_store_tests::{sha256_listing, sila_store_bin, snapshot, tiny_workspace, TempDir};

fn tiny_folder(t: &TempDir) -> PathBuf {
    let ws = t.join("ws");
    for (p, b) in &tiny_workspace().files {
        let to = ws.join(p);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::write(to, b).unwrap();
    }
    ws
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// What a user might put at DST while a conversion runs.
fn squat(dst: &Path, how: usize) {
    match how {
        0 => fs::write(dst, b"the user's file").unwrap(),
        1 => {
            fs::create_dir(dst).unwrap();
            fs::write(dst.join("notes.txt"), b"the user's notes").unwrap();
        }
        _ => fs::create_dir(dst).unwrap(),
    }
}

#[test]
fn what_appears_at_dst_during_a_convert_is_never_replaced() {
    let t = TempDir::new();
    let ws = tiny_folder(&t);
    let out = t.join("out");
    fs::create_dir(&out).unwrap();
    for dst_name in ["dst", "dst.db", "dst.zip"] {
        // A file, a folder with a file, an empty folder.
        for how in 0..3 {
            let dst = out.join(dst_name);
            let mut squatted = false;
            let r = convert(&ws, &dst, ConvertOptions::default(), &mut |p: Progress<
                '_,
            >| {
                if p.phase == "verifying" && !squatted {
                    squat(&dst, how);
                    squatted = true;
                }
            });
            assert!(squatted, "{dst_name}: no verifying phase");
            let e = r.expect_err("replaced what appeared at DST");
            assert_eq!(e.code(), "AlreadyExists", "{dst_name} {how}: {e}");
            let expected = match how {
                0 => Some(std::collections::BTreeMap::from([(
                    String::new(),
                    sila_store_core::ids::Sha256Hex::of(b"the user's file")
                        .as_str()
                        .to_string(),
                )])),
                1 => Some(std::collections::BTreeMap::from([(
                    "notes.txt".to_string(),
                    sila_store_core::ids::Sha256Hex::of(b"the user's notes")
                        .as_str()
                        .to_string(),
                )])),
                _ => Some(Default::default()),
            };
            assert_eq!(snapshot(&dst), expected, "{dst_name} {how}: DST changed");
            assert_eq!(names(&out), vec![dst_name.to_string()], "left beside DST");
            if dst.is_dir() {
                fs::remove_dir_all(&dst).unwrap();
            } else {
                fs::remove_file(&dst).unwrap();
            }
        }
        // With --force, what is there is replaced (the user asked).
        let dst = out.join(dst_name);
        squat(&dst, 0);
        convert(&ws, &dst, ConvertOptions { force: true }, &mut |_| {}).unwrap();
        assert_ne!(snapshot(&dst), None);
        assert!(fs::read(&dst).map_or(true, |b| b != b"the user's file"));
        if dst.is_dir() {
            assert_eq!(sha256_listing(&dst), sha256_listing(&ws));
            fs::remove_dir_all(&dst).unwrap();
        } else {
            fs::remove_file(&dst).unwrap();
        }
    }
}

#[test]
fn of_two_converts_to_one_dst_exactly_one_wins() {
    let t = TempDir::new();
    let ws = tiny_folder(&t);
    for dst_name in ["dst", "dst.db", "dst.zip"] {
        let out = t.join(&format!("out-{dst_name}"));
        fs::create_dir(&out).unwrap();
        let dst = out.join(dst_name);
        // Both pass the check at the start, then meet before either moves into place.
        let barrier = Arc::new(Barrier::new(2));
        let runs: Vec<_> = (0..2)
            .map(|_| {
                let (ws, dst, barrier) = (ws.clone(), dst.clone(), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    let mut met = false;
                    convert(&ws, &dst, ConvertOptions::default(), &mut |p| {
                        if p.phase == "verifying" && !met {
                            barrier.wait();
                            met = true;
                        }
                    })
                    .map(|_| ())
                    .map_err(|e| e.code().to_string())
                })
            })
            .collect();
        let mut results: Vec<Result<(), String>> =
            runs.into_iter().map(|h| h.join().unwrap()).collect();
        results.sort();
        assert_eq!(
            results,
            vec![Ok(()), Err("AlreadyExists".to_string())],
            "{dst_name}"
        );
        assert_eq!(names(&out), vec![dst_name.to_string()], "left beside DST");
        // And the winner is a whole, verified workspace.
        let back = t.join(&format!("back-{}", dst_name.replace('.', "-")));
        convert(&dst, &back, ConvertOptions::default(), &mut |_| {}).unwrap();
        assert_eq!(sha256_listing(&back), sha256_listing(&ws));
    }
}

#[test]
fn the_no_replace_rename_and_its_fallback_refuse() {
    let t = TempDir::new();
    for (name, rename) in [
        (
            "native",
            rename_no_replace as fn(&Path, &Path) -> std::io::Result<()>,
        ),
        ("portable", rename_no_replace_portable),
    ] {
        let d = t.join(name);
        fs::create_dir(&d).unwrap();
        // Files: onto a file, onto a folder, onto nothing.
        fs::write(d.join("from"), b"new").unwrap();
        fs::write(d.join("file"), b"old").unwrap();
        fs::create_dir(d.join("dir")).unwrap();
        for to in ["file", "dir"] {
            let e = rename(&d.join("from"), &d.join(to)).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists, "{name} {to}");
        }
        assert_eq!(fs::read(d.join("file")).unwrap(), b"old");
        assert_eq!(fs::read(d.join("from")).unwrap(), b"new");
        rename(&d.join("from"), &d.join("moved")).unwrap();
        assert_eq!(fs::read(d.join("moved")).unwrap(), b"new");
        assert!(!d.join("from").exists());
        // Folders: onto a file, onto an empty folder, onto a full one, onto nothing.
        fs::create_dir(d.join("from-dir")).unwrap();
        fs::write(d.join("from-dir/x"), b"x").unwrap();
        fs::create_dir(d.join("full")).unwrap();
        fs::write(d.join("full/y"), b"y").unwrap();
        for to in ["file", "dir", "full"] {
            let e = rename(&d.join("from-dir"), &d.join(to)).unwrap_err();
            assert_eq!(
                e.kind(),
                std::io::ErrorKind::AlreadyExists,
                "{name} dir {to}"
            );
        }
        assert_eq!(fs::read(d.join("full/y")).unwrap(), b"y");
        assert!(d.join("dir").is_dir() && names(&d.join("dir")).is_empty());
        rename(&d.join("from-dir"), &d.join("moved-dir")).unwrap();
        assert_eq!(fs::read(d.join("moved-dir/x")).unwrap(), b"x");
    }
}

/// Runs `sila-store ARGS` with stdout a pipe whose reader is already gone.
fn with_closed_stdout(args: &[&str]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut child = Command::new(sila_store_bin())
        .args(args)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (child.wait().unwrap().code(), err)
}

#[test]
fn a_closed_stdout_ends_every_printing_command_quietly() {
    let t = TempDir::new();
    let ws = tiny_folder(&t);
    let w = ws.to_str().unwrap();
    let tree = sila_store_tests::fuzz_checks::FUZZ_SPACE_ID;
    let dst = t.join("out.zip");
    let bad = t.join("missing");
    let commands: Vec<Vec<&str>> = vec![
        vec!["show", w],
        vec!["show", w, "--json"],
        vec!["verify", w],
        vec!["verify", w, "--json"],
        vec!["info", w],
        vec!["info", w, "--json"],
        vec!["tree", w, tree],
        vec!["tree", w, tree, "--json"],
        vec!["ops", w, "--tree", tree],
        vec!["ops", w, "--tree", tree, "--json"],
        vec!["secrets", w, "--json"],
        vec!["convert", w, dst.to_str().unwrap(), "--json"],
        // An error printed as JSON to the closed stdout.
        vec!["show", bad.to_str().unwrap(), "--json"],
    ];
    for args in commands {
        let (code, err) = with_closed_stdout(&args);
        assert_eq!(code, Some(141), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?} printed to stderr: {err}");
    }
}

/// Issue 17, item 5: a missing SRC is `NotFound` naming it; a DST whose extension names
/// no format is refused (listing the formats) and nothing is created; `--help` speaks
/// to users, with an example per command and the exit codes.
#[test]
fn the_command_line_says_what_is_wrong() {
    let t = TempDir::new();
    let ws = tiny_folder(&t);
    let run = |args: &[&str]| {
        let out = Command::new(sila_store_bin()).args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let missing = t.join("nothing-here");
    let dst = t.join("x.db");
    let (code, _, err) = run(&["convert", missing.to_str().unwrap(), dst.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(
        err.starts_with("error [NotFound]") && err.contains("nothing-here"),
        "{err}"
    );
    let (code, out, _) = run(&["info", missing.to_str().unwrap(), "--json"]);
    assert_eq!(code, Some(1));
    assert!(out.contains(r#""code":"NotFound""#), "{out}");
    let txt = t.join("out.txt");
    let (code, _, err) = run(&["convert", ws.to_str().unwrap(), txt.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("[InvalidArgument]") && err.contains("*.zip"),
        "{err}"
    );
    assert!(!txt.exists(), "a folder named out.txt was made");
    // Folder names with dots that are not file extensions stay folders.
    for name in ["backup.2026-03-10", "my.space", "ws.zip-back"] {
        let d = t.join(name);
        let (code, _, err) = run(&["convert", ws.to_str().unwrap(), d.to_str().unwrap()]);
        assert_eq!(code, Some(0), "{name}: {err}");
        assert!(d.join("space-v1").is_dir(), "{name}");
    }
    // An existing folder is a folder to convert into, whatever its name.
    let dotted = t.join("notes.txt");
    fs::create_dir(&dotted).unwrap();
    let (code, _, err) = run(&[
        "convert",
        ws.to_str().unwrap(),
        dotted.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(dotted.join("space-v1").is_dir());
    let (code, help, _) = run(&["--help"]);
    assert_eq!(code, Some(0));
    assert!(
        help.starts_with("Convert, verify and look inside Sila workspaces"),
        "{help}"
    );
    assert!(
        help.contains("Exit codes:") && help.contains("Examples:"),
        "{help}"
    );
    for cmd in [
        "convert", "verify", "info", "ops", "show", "chat", "tree", "sync", "secrets",
    ] {
        let (code, h, _) = run(&["help", cmd]);
        assert_eq!(code, Some(0));
        assert!(
            h.contains(&format!("Example:\n  sila-store {cmd} ")),
            "{cmd}: {h}"
        );
    }
}
