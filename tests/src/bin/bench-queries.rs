//! In-process figures for BENCHMARKS.md (`bench/run`): the seed's `getOperations`
//! latency on a SQLite archive against the plain folder (p50/p99 over many calls, whole
//! range and one day), and loading every tree of the workspace from each format.
//! Prints one JSON object per figure.
//!
//! `bench-queries PLAIN_DIR ARCHIVE.db ARCHIVE.zip TREE_ID [CALLS]`
use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::time::Instant;

use sila_store_core::archive::sqlite::SqliteSource;
use sila_store_core::archive::zip::ZipSource;
use sila_store_core::entries::EntrySource;
use sila_store_core::ids::{Day, TreeId};
use sila_store_core::model::load_trees;
use sila_store_native::fs::PlainSource;
use sila_store_native::workspace::open_sqlite_read_only;

fn percentiles(mut t: Vec<f64>) -> (f64, f64) {
    t.sort_by(f64::total_cmp);
    let at = |q: f64| t[((t.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99))
}

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

/// p50 and p99 in ms of `calls` calls of `f`, each returning `n` ops.
fn timed<T>(
    calls: usize,
    n: usize,
    mut f: impl FnMut() -> BoxResult<Vec<T>>,
) -> BoxResult<(f64, f64)> {
    let mut t = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t0 = Instant::now();
        let ops = f()?;
        t.push(t0.elapsed().as_secs_f64() * 1e3);
        assert_eq!(ops.len(), n);
    }
    Ok(percentiles(t))
}

fn print_figure(format: &str, range: &str, n: usize, p50: f64, p99: f64) {
    println!(
        "{{\"figure\":\"getOperations\",\"format\":\"{format}\",\"range\":\"{range}\",\"ops\":{n},\"p50_ms\":{p50:.4},\"p99_ms\":{p99:.4}}}"
    );
}

fn main() -> BoxResult<()> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let [plain, db, zip, tree] = [0, 1, 2, 3].map(|i| a.get(i).cloned().unwrap_or_default());
    let calls: usize = a.get(4).map_or(Ok(200), |s| s.parse())?;
    let tree = TreeId::new(&tree)?;
    let plain = PathBuf::from(plain);

    let conn = open_sqlite_read_only(db.as_ref())?;
    let mut sqlite = SqliteSource::new(&conn)?;
    let mut folder = PlainSource::open(&plain)?;
    let all = sqlite.get_operations(&tree, None, None)?;
    let first_day = all.first().map(|o| Day::parse(&o.day)).transpose()?;
    for (range, from, to) in [("all days", None, None), ("one day", first_day, first_day)] {
        let n = sqlite.get_operations(&tree, from, to)?.len();
        assert_eq!(n, folder.get_operations(&tree, from, to)?.len());
        for (format, src) in [
            ("sqlite", &mut sqlite as &mut dyn EntrySource),
            ("plain", &mut folder as &mut dyn EntrySource),
        ] {
            let (p50, p99) = timed(calls, n, || Ok(src.get_operations(&tree, from, to)?))?;
            print_figure(format, range, n, p50, p99);
        }
    }

    // The whole tree from an archive just opened: nothing inflated yet (the figures
    // above are of an archive kept open, as a server keeps it: its blocks cached).
    let n = all.len();
    let (p50, p99) = timed(calls, n, || {
        // A new source's cache is empty; opening it (the schema check) is not timed
        // apart here, so this is the first call as a host sees it.
        Ok(SqliteSource::new(&conn)?.get_operations(&tree, None, None)?)
    })?;
    print_figure("sqlite, first call", "all days", n, p50, p99);

    // Loading the whole workspace (every op of every tree, trees rebuilt as RepTree does).
    let runs = 3;
    for format in ["sqlite", "plain", "zip"] {
        let mut t = Vec::new();
        let mut ops = 0;
        for _ in 0..runs {
            let t0 = Instant::now();
            let trees = match format {
                "sqlite" => load_trees(&mut SqliteSource::new(&conn)?)?,
                "plain" => load_trees(&mut PlainSource::open(&plain)?)?,
                _ => load_trees(&mut ZipSource::new(BufReader::new(File::open(&zip)?))?)?,
            };
            t.push(t0.elapsed().as_secs_f64() * 1e3);
            ops = trees.values().map(|t| t.vertex_count()).sum::<usize>();
        }
        let (p50, _) = percentiles(t);
        println!(
            "{{\"figure\":\"load\",\"format\":\"{format}\",\"vertices\":{ops},\"median_ms\":{p50:.1}}}"
        );
    }
    Ok(())
}
