//! 300 property ops with tricky values (random doubles, integer-like keys, `null`,
//! nesting, U+2028, lone surrogates), sent in Sila's wire form through the real CLI:
//! `push` a workspace, `sync` the ops in, `pull` it back. Every stored line must be
//! the line Node's `JSON.stringify` gives, and a second client's `sync` reply must
//! carry every value unchanged. Needs `node` (`SILA_STORE_REQUIRE_ORACLE=1` makes its
//! absence a failure).

use std::io::Write;
use std::process::{Command, Stdio};

use sila_store_core::ops::wire::{self, WireOp};
use sila_store_tests::tricky_json::{node_available, node_stringify, values};
use sila_store_tests::{fixtures_dir, for_each_file, sila_store_bin, TempDir};

const PEER: &str = "c0ffee00c0ffee00c0ffee00c0ffee00";

fn sync(store: &str, id: &str, input: &str) -> String {
    let mut child = Command::new(sila_store_bin())
        .args(["sync", "--store", store, id, id])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sila-store sync");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write ops");
    let o = child.wait_with_output().expect("sync");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).expect("utf-8")
}

#[test]
fn three_hundred_tricky_values_are_stored_as_sila_writes_them() {
    if !node_available() {
        assert!(
            std::env::var_os("SILA_STORE_REQUIRE_ORACLE").is_none(),
            "node is required"
        );
        return;
    }
    let texts = values(0x5111c, 300);
    let node = node_stringify(&texts);
    let t = TempDir::new();
    let store = format!("file://{}", t.join("store").display());
    let fx = fixtures_dir().join("getting-started-complete");
    let id = sila_store_core::space::space_id_from_json(
        &std::fs::read(fx.join("space-v1/space.json")).expect("space.json"),
    )
    .expect("space id");
    let o = Command::new(sila_store_bin())
        .args(["push", fx.to_str().expect("path"), &store])
        .output()
        .expect("push");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // The ops as a client sends them: values as the JSON text it chose.
    let mut input = String::from("[");
    for (i, text) in texts.iter().enumerate() {
        if i > 0 {
            input.push(',');
        }
        input.push_str(&format!(
            r#"{{"id":{{"counter":{},"peerId":"{PEER}"}},"targetId":"v","key":"k","value":{text},"transient":false}}"#,
            100_000 + i
        ));
    }
    input.push(']');
    sync(&store, &id, &input);

    let out = t.join("pulled");
    let o = Command::new(sila_store_bin())
        .args(["pull", &store, &id, out.to_str().expect("path")])
        .output()
        .expect("pull");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut stored = String::new();
    for_each_file(&out, &mut |rel, path| {
        if rel.ends_with(&format!("{PEER}-p.jsonl")) {
            stored.push_str(&std::fs::read_to_string(path).expect("ops file"));
        }
    });
    let want: String = node
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "[{},\"v\",\"k\",{}]\n",
                100_000 + i,
                v.as_deref().expect("valid")
            )
        })
        .collect();
    let differ = stored
        .lines()
        .zip(want.lines())
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(stored.lines().count(), 300);
    assert_eq!(differ, 0, "{differ} of 300 lines differ from Node's");
    assert_eq!(stored, want);

    // A second client that has nothing gets every value back as stored.
    let reply = wire::from_json(&sync(&store, &id, "[]")).expect("reply");
    let ours: Vec<&WireOp> = reply.iter().filter(|o| o.id.peer_id == PEER).collect();
    assert_eq!(ours.len(), 300);
    for (op, v) in ours.iter().zip(&node) {
        let v = v.as_deref().expect("valid");
        let got = op.value.as_deref().map(|r| r.get());
        if sila_store_core::ops::OpLine::is_deletion_value(v) {
            assert_eq!(got, None, "a deletion");
        } else {
            assert_eq!(got, Some(v), "counter {}", op.id.counter);
        }
    }
}
