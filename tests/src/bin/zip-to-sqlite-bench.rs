//! The native side of `bench/wasm-vs-native`: the same in-memory work as the wasm
//! package's `zipToSqlite` (ZIP bytes → a SQLite archive in memory, read back and
//! compared file by file), timed in process. Usage: `zip-to-sqlite-bench ZIP RUNS`.
use std::io::Cursor;
use std::time::Instant;

use rusqlite::Connection;
use sila_store_core::archive::sqlite::{SqliteSink, SqliteSource};
use sila_store_core::archive::zip::ZipSource;
use sila_store_core::convert::{compare, copy_all};
use sila_store_core::entries::listing;

fn once(zip: &[u8]) -> sila_store_core::Result<()> {
    let mut source = ZipSource::new(Cursor::new(zip))?;
    let conn = Connection::open_in_memory()?;
    let written = {
        let mut sink = SqliteSink::new(&conn, "zip")?;
        copy_all(&mut source, &mut sink, &mut |_| {})?
    };
    let back = listing(&mut SqliteSource::new(&conn)?, &mut |_| {})?;
    compare(&written, &back)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: zip-to-sqlite-bench ZIP RUNS")?;
    let runs: usize = args.next().as_deref().unwrap_or("11").parse()?;
    let zip = std::fs::read(path)?;
    once(&zip)?;
    let mut t = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t0 = Instant::now();
        once(&zip)?;
        t.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    t.sort_by(f64::total_cmp);
    println!("native in-process zip→sqlite: {:.2} ms", t[runs / 2]);
    Ok(())
}
