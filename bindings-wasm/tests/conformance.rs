//! The conformance suite compiled to wasm: every fixture through the bindings'
//! exported functions (what JavaScript calls), in Node (`wasm-bindgen-test-runner`'s
//! default) and in headless Chromium in a dedicated worker
//! (`WASM_BINDGEN_USE_DEDICATED_WORKER=1`); see scripts/test-wasm.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Object, Reflect, Uint8Array};
use sila_store_wasm as w;
use std::collections::BTreeMap;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

include!(concat!(env!("OUT_DIR"), "/fixtures.rs"));

fn files_js(files: &[(&str, &[u8])]) -> JsValue {
    let a = Array::new();
    for (path, bytes) in files {
        let o = Object::new();
        Reflect::set(&o, &"path".into(), &(*path).into()).unwrap();
        Reflect::set(&o, &"bytes".into(), &Uint8Array::from(*bytes)).unwrap();
        a.push(&o);
    }
    a.into()
}

fn listing_js(files: &JsValue) -> BTreeMap<String, String> {
    Array::from(files)
        .iter()
        .map(|f| {
            let path = Reflect::get(&f, &"path".into())
                .unwrap()
                .as_string()
                .unwrap();
            let bytes: Uint8Array = Reflect::get(&f, &"bytes".into())
                .unwrap()
                .dyn_into()
                .unwrap();
            (path, w::sha256(&bytes.to_vec()))
        })
        .collect()
}

fn listing(files: &[(&str, &[u8])]) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|(p, b)| (p.to_string(), w::sha256(b)))
        .collect()
}

fn code_of(r: Result<JsValue, JsValue>) -> String {
    match r {
        Ok(_) => "no error".into(),
        Err(e) => Reflect::get(&e, &"code".into())
            .unwrap()
            .as_string()
            .unwrap(),
    }
}

#[wasm_bindgen_test]
fn every_fixture_round_trips_through_every_format_both_ways() {
    assert!(FIXTURES.len() >= 7, "{} fixtures embedded", FIXTURES.len());
    for (name, files) in FIXTURES {
        let plain = files_js(files);
        let want = listing(files);
        for (a, b) in [("sqlite", "zip"), ("zip", "sqlite")] {
            let first = w::convert(&plain, a, None).unwrap();
            assert_eq!(w::detect_format(&first), a, "{name}");
            let second = w::convert(&first, b, None).unwrap();
            assert_eq!(w::detect_format(&second), b, "{name}");
            let back = w::convert(&second, "plain", None).unwrap();
            assert_eq!(listing_js(&back), want, "{name}: plain → {a} → {b} → plain");
        }
    }
}

#[wasm_bindgen_test]
fn every_fixture_verifies_and_reads_the_same_ops_in_every_format() {
    for (name, files) in FIXTURES {
        let plain = files_js(files);
        let db = w::convert(&plain, "sqlite", None).unwrap();
        let zip = w::convert(&plain, "zip", None).unwrap();
        for ws in [&plain, &db, &zip] {
            let report = w::verify(ws, None).unwrap();
            let errors = Array::from(&Reflect::get(&report, &"errors".into()).unwrap());
            assert_eq!(errors.length(), 0, "{name}");
        }
        let info = w::info(&plain).unwrap();
        let trees = Array::from(&Reflect::get(&info, &"trees".into()).unwrap());
        for t in trees.iter() {
            let id = Reflect::get(&t, &"id".into()).unwrap().as_string().unwrap();
            let ops = |ws: &JsValue| {
                js_sys::JSON::stringify(&w::get_operations(ws, &id, None, None).unwrap())
                    .unwrap()
                    .as_string()
                    .unwrap()
            };
            let p = ops(&plain);
            assert_eq!(p, ops(&db), "{name} {id}");
            assert_eq!(p, ops(&zip), "{name} {id}");
        }
    }
}

#[wasm_bindgen_test]
fn bad_input_gets_a_typed_error() {
    let (_, files) = FIXTURES.iter().find(|(n, _)| *n == "rich").unwrap();
    let plain = files_js(files);
    let db: Uint8Array = w::convert(&plain, "sqlite", None)
        .unwrap()
        .dyn_into()
        .unwrap();
    let zip: Uint8Array = w::convert(&plain, "zip", None).unwrap().dyn_into().unwrap();
    let cut = |a: &Uint8Array, n: u32| JsValue::from(a.slice(0, n));
    assert_eq!(
        code_of(w::convert(&cut(&zip, 200), "sqlite", None)),
        "NotAnArchive"
    );
    assert_eq!(code_of(w::convert(&cut(&db, 8192), "zip", None)), "Corrupt");
    let future = db.slice(0, db.length());
    future.set(&Uint8Array::from(&[0u8, 0, 0, 99][..]), 60);
    assert_eq!(
        code_of(w::convert(&future.into(), "zip", None)),
        "UnsupportedVersion"
    );
    assert_eq!(
        code_of(w::convert(&files_js(&[("../x", b"1")]), "zip", None)),
        "UnsafePath"
    );
    let mut tampered: Vec<(&str, Vec<u8>)> = files.iter().map(|(p, b)| (*p, b.to_vec())).collect();
    let cas = tampered
        .iter_mut()
        .find(|(p, _)| p.contains("files/static/"))
        .unwrap();
    cas.1.push(0);
    let refs: Vec<(&str, &[u8])> = tampered.iter().map(|(p, b)| (*p, &b[..])).collect();
    assert_eq!(
        code_of(w::convert(&files_js(&refs), "zip", None)),
        "HashMismatch"
    );
    assert_eq!(
        code_of(w::convert(&JsValue::from(3), "zip", None)),
        "InvalidArgument"
    );
    assert_eq!(code_of(w::convert(&plain, "tar", None)), "InvalidArgument");
}

#[wasm_bindgen_test]
fn ops_files_parse_as_sila_reads_them() {
    let ops = w::parse_ops_file(
        "space-v1/ops/ab/cdef0123456789abcdef0123456789/2026/03/10/peer1-p.jsonl",
        b"[1,\"v\",\"k\",{}]\n[2,\"v\",\"k\",\"x\"]\nnot json\n",
    )
    .unwrap();
    assert_eq!(ops.length(), 2);
    let first = ops.get(0);
    assert!(Reflect::get(&first, &"valueJson".into())
        .unwrap()
        .is_undefined());
    assert_eq!(
        Reflect::get(&ops.get(1), &"valueJson".into()).unwrap(),
        "\"x\""
    );
}
