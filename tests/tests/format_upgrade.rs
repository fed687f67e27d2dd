//! SQLite archives of format 1 (one row per ops line, written by builds before format
//! 2) and format 2 (no tree snapshots) stay readable, and convert to the format this
//! build writes losslessly: on every fixture, an old archive verifies, converts to a
//! new archive (and a ZIP) and back to a folder byte for byte, and reads the same ops
//! and trees as the new one. The new one's snapshots are the trees its ops rebuild.

use sila_store_core::archive::sqlite::{open_untrusted, SqliteSource, FORMAT_VERSION};
use sila_store_core::inspect;
use sila_store_native::with_source;
use sila_store_tests::{all_fixtures, sha256_listing, write_sqlite_in, TempDir};

fn version(p: &std::path::Path) -> i64 {
    let c = open_untrusted(p).expect("open");
    let v = SqliteSource::new(&c).expect("ours").version();
    drop(c);
    v
}

#[test]
fn old_archives_convert_to_the_current_format_byte_for_byte() {
    for old in [1, 2] {
        old_archives_convert(old);
    }
}

fn old_archives_convert(old: i64) {
    let conv = |a: &std::path::Path, b: &std::path::Path| {
        sila_store_native::convert(a, b, Default::default(), &mut |_| {})
            .unwrap_or_else(|e| panic!("convert {} -> {}: {e}", a.display(), b.display()));
    };
    for ws in all_fixtures() {
        let t = TempDir::new();
        let name = format!("{} (format {old})", ws.display());
        write_sqlite_in(&ws, &t.join("v1.db"), old);
        assert_eq!(version(&t.join("v1.db")), old, "{name}");
        let r = with_source(&t.join("v1.db"), |s| Ok(inspect::verify(s, &mut |_| {}))).unwrap();
        let plain = with_source(&ws, |s| Ok(inspect::verify(s, &mut |_| {}))).unwrap();
        assert_eq!(r.ok, plain.ok, "{name}: {:?}", r.errors);
        conv(&t.join("v1.db"), &t.join("v2.db"));
        assert_eq!(version(&t.join("v2.db")), FORMAT_VERSION, "{name}");
        conv(&t.join("v1.db"), &t.join("v1.zip"));
        conv(&t.join("v2.db"), &t.join("back"));
        conv(&t.join("v1.zip"), &t.join("back-zip"));
        let original = sha256_listing(&ws);
        assert_eq!(
            original,
            sha256_listing(&t.join("back")),
            "{name}: v1 → v2 → plain"
        );
        assert_eq!(
            original,
            sha256_listing(&t.join("back-zip")),
            "{name}: v1 → zip → plain"
        );
        // The same ops, tree by tree, and the same model from both formats.
        let trees = |p: &std::path::Path| {
            with_source(p, |s| {
                let mut out = Vec::new();
                for e in s.entries()? {
                    if let sila_store_core::layout::EntryKind::OpsFile(k) = &e.kind {
                        out.push(k.tree.clone());
                    }
                }
                out.dedup();
                let mut ops = Vec::new();
                for tree in out {
                    ops.push(s.get_operations(&tree, None, None)?);
                }
                Ok(ops)
            })
            .unwrap()
        };
        assert_eq!(trees(&t.join("v1.db")), trees(&t.join("v2.db")), "{name}");
        let summary = |p: &std::path::Path| {
            with_source(p, |s| {
                sila_store_core::model::SpaceModel::load(s).map(|m| m.summary())
            })
            .unwrap()
        };
        assert_eq!(
            summary(&t.join("v1.db")),
            summary(&t.join("v2.db")),
            "{name}"
        );
        // The archive's outline (no op_files rows listed) is the folder's.
        let outline = |p: &std::path::Path| {
            with_source(p, |s| {
                let o = s.outline()?;
                let paths: Vec<String> = o.entries.iter().map(|e| e.path.clone()).collect();
                Ok((paths, o.trees))
            })
            .unwrap()
        };
        assert_eq!(outline(&t.join("v2.db")), outline(&ws), "{name}");
        // The new archive's trees open from their snapshots, as its ops rebuild them.
        with_source(&t.join("v2.db"), |s| {
            let opened = sila_store_core::model::open_trees(s)?;
            let replayed = sila_store_core::model::load_trees(s)?;
            assert!(opened.keys().eq(replayed.keys()), "{name}");
            for (id, tree) in &opened {
                assert!(tree.is_snapshot(), "{name}: {id}");
                assert_eq!(tree.states(), replayed[id].states(), "{name}: {id}");
                assert_eq!(
                    tree.state_vector(),
                    replayed[id].state_vector(),
                    "{name}: {id}"
                );
            }
            Ok(())
        })
        .unwrap();
    }
}
