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

fn sample_tree() -> RepTree {
    RepTree::from_ops([
        mv(1, "p", "r", None),
        mv(2, "p", "a", Some("r")),
        mv(3, "q", "b", Some("r")),
        set(4, "p", "a", "name", Some("\"a\"")),
        set(5, "q", "a", "name", Some("\"later\"")),
        set(4, "q", "a", "name", Some("\"lost\"")),
        mv(6, "p", "b", Some("a")),
        mv(9, "p", "c", Some("missing")),
    ])
}

#[test]
fn a_snapshot_reads_back_as_the_same_tree() {
    let t = sample_tree();
    let bytes = t.snapshot();
    assert_eq!(t.snapshot_len(), bytes.len());
    let back = RepTree::from_snapshot(&bytes).unwrap();
    assert!(back.is_snapshot() && !t.is_snapshot());
    assert_eq!(back.states(), t.states());
    assert_eq!(back.snapshot(), bytes);
    assert_eq!(
        t.state_vector(),
        [
            ("p".into(), vec![(1, 2), (4, 4), (6, 6)]),
            ("q".into(), vec![(3, 3), (5, 5)])
        ],
        "a losing set and a stashed move are not counted"
    );
    assert_eq!(back.state_vector(), t.state_vector());
    assert_eq!(back.vertex_by_path("later").map(|v| v.id()), Some("a"));
    // A view holds no history: ops applied to it change nothing.
    let mut view = back.clone();
    view.apply_ops([mv(10, "p", "z", Some("r"))]);
    assert_eq!(view.snapshot(), bytes);
}

#[test]
fn a_hostile_snapshot_is_refused_without_panicking() {
    let bytes = sample_tree().snapshot();
    for cut in 0..bytes.len() {
        assert!(
            RepTree::from_snapshot(&bytes[..cut]).is_err(),
            "cut at {cut}"
        );
    }
    // Every byte changed to every value: refused or read, never a panic.
    for i in 0..bytes.len() {
        for b in [0u8, 1, 2, 0x7f, 0x80, 0xff] {
            let mut bad = bytes.clone();
            bad[i] = b;
            if let Ok(t) = RepTree::from_snapshot(&bad) {
                assert_eq!(t.snapshot(), bad, "a snapshot read is canonical");
            }
        }
    }
    // A count no byte backs reserves nothing.
    let mut huge = SNAPSHOT_MAGIC.to_vec();
    huge.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    assert!(matches!(
        RepTree::from_snapshot(&huge),
        Err(crate::Error::Corrupt { .. })
    ));
    // A child listed by a vertex that is not its parent.
    let t = RepTree::from_ops([
        mv(1, "p", "r", None),
        mv(2, "p", "a", Some("r")),
        mv(3, "p", "b", Some("r")),
    ]);
    let good = t.snapshot();
    let mut other = good.clone();
    // r lists [1, 2]; make it [1, 1].
    let pos = good
        .windows(3)
        .position(|w| w == [2, 1, 2])
        .expect("r's children");
    other[pos + 2] = 1;
    assert!(RepTree::from_snapshot(&other).is_err());
}

#[test]
fn a_snapshot_of_a_state_no_replay_makes_is_refused() {
    let snap = |body: &[u8]| {
        let mut b = SNAPSHOT_MAGIC.to_vec();
        b.extend_from_slice(body);
        RepTree::from_snapshot(&b)
    };
    // One vertex "r", a root, no peers: fine.
    let root = snap(&[0, 1, 1, b'r', 0, 0, 0, 0]).unwrap();
    assert_eq!(root.root().map(|r| r.id()), Some("r"));
    // "r" its own parent.
    assert!(snap(&[0, 1, 1, b'r', 1, 0, 0, 1, 0, 0]).is_err());
    // A peer with no ranges.
    assert!(snap(&[0, 0, 1, 1, b'p', 0]).is_err());
    // A key listed twice, a key listed but never used.
    assert!(snap(&[2, 1, b'k', 1, b'k', 0, 0]).is_err());
    assert!(snap(&[1, 1, b'k', 0, 0]).is_err());
}
