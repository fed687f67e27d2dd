//! Unit tests of the RepTree port (the differential tests against the real RepTree
//! are in `tests/`).

use super::*;

fn mv(c: u64, p: &str, t: &str, parent: Option<&str>) -> TreeOp {
    TreeOp {
        id: OpId {
            counter: c,
            peer: p.into(),
        },
        target: t.into(),
        kind: OpKind::Move {
            parent: parent.map(Into::into),
        },
    }
}

fn set(c: u64, p: &str, t: &str, k: &str, v: Option<&str>) -> TreeOp {
    TreeOp {
        id: OpId {
            counter: c,
            peer: p.into(),
        },
        target: t.into(),
        kind: OpKind::Set {
            key: k.into(),
            value: v.map(Into::into),
        },
    }
}

#[test]
fn concurrent_moves_higher_peer_wins_in_any_order() {
    let base = [
        mv(1, "pa", "0", None),
        mv(2, "pa", "r", None),
        mv(3, "pa", "a", Some("r")),
        mv(4, "pa", "b", Some("r")),
        mv(5, "pa", "x", Some("r")),
    ];
    let c1 = mv(7, "pa", "x", Some("a"));
    let c2 = mv(7, "pb", "x", Some("b"));
    for ops in [[c1.clone(), c2.clone()], [c2, c1]] {
        let t = RepTree::from_ops(base.iter().cloned().chain(ops));
        assert_eq!(t.vertex("x").unwrap().parent(), Some("b"));
        assert_eq!(t.root().unwrap().id(), "r");
    }
}

#[test]
fn cycles_are_skipped_and_props_stashed() {
    let t = RepTree::from_ops([
        set(9, "p", "b", "name", Some("\"bee\"")),
        mv(1, "p", "r", None),
        mv(2, "p", "a", Some("r")),
        mv(3, "p", "b", Some("a")),
        mv(4, "p", "a", Some("b")),
    ]);
    assert_eq!(t.vertex("a").unwrap().parent(), Some("r"));
    assert_eq!(t.vertex("b").unwrap().prop("name"), Some("\"bee\""));
    assert_eq!(t.vertex_by_path("a").map(|v| v.id()), None);
}

#[test]
fn v8_sort_matches_insertion_semantics() {
    let mut v = vec![3, 1, 2];
    v8_sort(&mut v, |a, b| f64::from(*a) - f64::from(*b));
    assert_eq!(v, [1, 2, 3]);
    assert_eq!(
        js_date_value("\"2026-11-23T19:50:30.007Z\""),
        1_795_463_430_007.0
    );
    assert!(js_date_value("\"yesterday\"").is_nan());
}
