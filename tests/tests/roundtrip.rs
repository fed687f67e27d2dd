//! Every fixture through every pair of formats, byte for byte.

use std::collections::BTreeSet;
use std::path::Path;

use sila_store_core::ids::{Day, TreeId};
use sila_store_core::inspect;
use sila_store_core::layout::EntryKind;
use sila_store_native::{convert, with_source, ConvertOptions};
use sila_store_tests::{all_fixtures, roundtrip_both_ways, sha256_listing, TempDir};

fn conv(src: &Path, dst: &Path) {
    convert(src, dst, ConvertOptions::default(), &mut |_| {})
        .unwrap_or_else(|e| panic!("convert {} -> {}: {e}", src.display(), dst.display()));
}

#[test]
fn plain_sqlite_zip_plain_and_plain_zip_sqlite_plain() {
    for fx in all_fixtures() {
        let t = TempDir::new();
        let original = sha256_listing(&fx);
        roundtrip_both_ways(&fx, &t);
        // Direct archive-to-archive and plain-to-plain as well.
        conv(&t.join("a.db"), &t.join("g.db"));
        conv(&t.join("d.zip"), &t.join("h.zip"));
        conv(&fx, &t.join("i"));
        assert_eq!(original, sha256_listing(&t.join("i")));
        // The same workspace always gives the same ZIP bytes.
        assert_eq!(
            std::fs::read(t.join("d.zip")).unwrap(),
            std::fs::read(t.join("h.zip")).unwrap(),
            "{}: ZIP output is deterministic",
            fx.display()
        );
        for archive in ["a.db", "b.zip", "e.db", "d.zip"] {
            let report =
                with_source(&t.join(archive), |s| Ok(inspect::verify(s, &mut |_| {}))).unwrap();
            assert!(report.ok, "{} {archive}: {:?}", fx.display(), report.errors);
            assert_eq!(report.files_checked as usize, original.len());
        }
    }
}

fn ops_lines(src: &Path, tree: &TreeId, from: Option<Day>, to: Option<Day>) -> Vec<String> {
    with_source(src, |s| s.get_operations(tree, from, to))
        .unwrap()
        .into_iter()
        .map(|o| format!("{} {} {} {}", o.day, o.peer, o.file_kind, o.line))
        .collect()
}

#[test]
fn get_operations_agree_across_formats() {
    for fx in all_fixtures() {
        let t = TempDir::new();
        conv(&fx, &t.join("w.db"));
        conv(&fx, &t.join("w.zip"));
        let entries = with_source(&fx, |s| s.entries()).unwrap();
        let mut trees = BTreeSet::new();
        let mut days = BTreeSet::new();
        let mut total_lines = 0usize;
        for e in &entries {
            if let EntryKind::OpsFile(k) = &e.kind {
                trees.insert(k.tree.clone());
                days.insert(k.day);
                total_lines += std::fs::read_to_string(fx.join(&e.path))
                    .unwrap()
                    .lines()
                    .count();
            }
        }
        let days: Vec<Day> = days.into_iter().collect();
        let first = days[0];
        let last = *days.last().unwrap();
        let ranges = [
            (None, None),
            (Some(first), Some(first)),
            (Some(last), None),
            (None, Some(first)),
            (
                Some(Day::parse("1999-01-01").unwrap()),
                Some(Day::parse("1999-12-31").unwrap()),
            ),
            (days.get(1).copied(), Some(last)),
        ];
        let mut all = 0;
        for tree in &trees {
            for (from, to) in ranges {
                let plain = ops_lines(&fx, tree, from, to);
                assert_eq!(
                    plain,
                    ops_lines(&t.join("w.db"), tree, from, to),
                    "{} {tree} {from:?}..{to:?}",
                    fx.display()
                );
                assert_eq!(plain, ops_lines(&t.join("w.zip"), tree, from, to));
                if from.is_none() && to.is_none() {
                    all += plain.len();
                }
            }
        }
        assert_eq!(
            all,
            total_lines,
            "{}: every line of every ops file",
            fx.display()
        );
    }
}

#[test]
fn info_matches_the_fixtures_readme() {
    let expect = [
        ("getting-started", 1, 36, 1, 0),
        ("getting-started-complete", 2, 76, 1, 0),
        ("citybean-coffee", 32, 1277, 1, 0),
        ("citybean-coffee-complete", 33, 1305, 1, 0),
        ("rich", 7, 497, 4, 7),
        ("legacy", 4, 269, 5, 4),
    ];
    for (name, trees, ops, peers, cas) in expect {
        let fx = sila_store_tests::fixtures_dir().join(name);
        let t = TempDir::new();
        conv(&fx, &t.join("w.db"));
        for src in [fx.clone(), t.join("w.db")] {
            let info = with_source(&src, inspect::info).unwrap();
            assert_eq!(info.trees.len(), trees, "{name}");
            assert_eq!(info.ops, ops, "{name}");
            assert_eq!(info.peers, peers, "{name}");
            assert_eq!(info.static_files, cas, "{name}");
            assert!(info.space_name.is_some(), "{name}");
        }
    }
}

#[test]
fn wrong_space_id_is_a_warning_not_an_error() {
    let fx = all_fixtures()
        .into_iter()
        .find(|p| p.ends_with("citybean-coffee-wrong-space-id"))
        .unwrap();
    let report = with_source(&fx, |s| Ok(inspect::verify(s, &mut |_| {}))).unwrap();
    assert!(report.ok);
    let w = report
        .warnings
        .iter()
        .find(|w| w.code == "SpaceJsonNamesAppTree")
        .expect("the space.json warning");
    assert!(w.message.contains("2391c528"), "{}", w.message);
    for fx in all_fixtures()
        .iter()
        .filter(|p| !p.ends_with("citybean-coffee-wrong-space-id"))
    {
        let report = with_source(fx, |s| Ok(inspect::verify(s, &mut |_| {}))).unwrap();
        assert!(report.ok, "{}: {:?}", fx.display(), report.errors);
        assert!(
            report
                .warnings
                .iter()
                .all(|w| w.code != "SpaceJsonNamesAppTree"),
            "{}: {:?}",
            fx.display(),
            report.warnings
        );
    }
}
