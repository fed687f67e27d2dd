//! Secrets are never decrypted unless asked: a secret's value appears in no archive and
//! in no output of the `sila-store` binary, except `secrets --show-values`.

use std::fs;
use std::process::Command;

use sila_store_core::secrets::{encrypt, KeyVariant};
use sila_store_tests::fuzz_checks::FUZZ_SPACE_ID;
use sila_store_tests::{sha256_listing, sila_store_bin, tiny_workspace, TempDir};

const CANARY: &str = "sk-canary-0b9e1c5d7a3f";

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn a_secret_value_shows_only_when_asked() {
    let t = TempDir::new();
    let ws = t.join("ws");
    let mut w = tiny_workspace();
    let sealed = encrypt(
        FUZZ_SPACE_ID,
        &[("api-key-openai".into(), CANARY.into())],
        [9; 12],
        KeyVariant::RawSpaceId,
    )
    .unwrap();
    w.insert("space-v1/secrets", sealed.as_bytes());
    for (p, b) in &w.files {
        let at = ws.join(p);
        fs::create_dir_all(at.parent().unwrap()).unwrap();
        fs::write(at, b).unwrap();
    }
    let run = |args: &[&str]| {
        let out = Command::new(sila_store_bin()).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut all = out.stdout;
        all.extend_from_slice(&out.stderr);
        all
    };
    let s = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let (db, zip, back) = (s(&t.join("w.db")), s(&t.join("w.zip")), s(&t.join("back")));
    let src = s(&ws);
    for (from, to) in [(&src, &db), (&src, &zip), (&zip, &back)] {
        let out = run(&["convert", from, to, "--json"]);
        assert!(!contains(&out, CANARY), "convert printed the secret");
    }
    // The archives hold the file still encrypted; it comes back byte for byte.
    for archive in [&db, &zip] {
        assert!(
            !contains(&fs::read(archive).unwrap(), CANARY),
            "{archive} holds the secret in clear"
        );
    }
    assert_eq!(sha256_listing(&ws), sha256_listing(&t.join("back")));
    for src in [&src, &db, &zip] {
        for args in [
            vec!["verify", src, "--json"],
            vec!["verify", src],
            vec!["info", src, "--json"],
            vec!["show", src, "--json"],
            vec!["secrets", src, "--json"],
            vec!["secrets", src],
        ] {
            let out = run(&args);
            assert!(!contains(&out, CANARY), "{args:?} printed the secret");
        }
        let out = run(&["secrets", src, "--show-values", "--json"]);
        assert!(
            contains(&out, CANARY),
            "--show-values did not show the secret"
        );
        let out = run(&["secrets", src, "--json"]);
        assert!(contains(&out, "api-key-openai"), "the name is shown");
    }
}
