//! `json::js_normalize` against Node's `JSON.stringify(JSON.parse(text))` on random
//! values (SILA-FORMAT.md §2.1: every value Sila writes goes through
//! `JSON.stringify`). Needs `node`; `SILA_STORE_REQUIRE_ORACLE=1` makes its absence a
//! failure. `SILA_STORE_JSON_CASES` sets the number of random texts (default 20,000).

use sila_store_core::json::js_normalize;
use sila_store_tests::tricky_json::{node_available, node_stringify, values};

#[test]
fn js_normalize_equals_node_on_random_values() {
    if !node_available() {
        assert!(
            std::env::var_os("SILA_STORE_REQUIRE_ORACLE").is_none(),
            "node is required"
        );
        eprintln!("skipping: node missing");
        return;
    }
    let n = std::env::var("SILA_STORE_JSON_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let texts = values(0x5eed_1234, n);
    let node = node_stringify(&texts);
    let mut differ = Vec::new();
    for (text, want) in texts.iter().zip(&node) {
        let ours = js_normalize(text).ok();
        if &ours != want {
            differ.push(format!("{text}\n  node: {want:?}\n  ours: {ours:?}"));
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {n} differ, e.g.:\n{}",
        differ.len(),
        differ[..differ.len().min(5)].join("\n")
    );
    println!("{n} random JSON texts: js_normalize equals Node's JSON.stringify(JSON.parse(text))");
}
