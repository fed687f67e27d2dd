//! `putOperation` called N times into one day file, through the engine over the
//! filesystem store: bytes the process wrote (`/proc/self/io` `wchar`) against the
//! size of the file, at ten checkpoints. Linear growth keeps the ratio near 1; a
//! writer that rewrote the day file per call would grow it with N.
//!
//! Usage: put-ops-bench DIR [N=10000]   (DIR must not exist)

use sila_store_core::ids::{Day, TreeId};
use sila_store_core::ops::wire::WireOp;
use sila_store_core::storage::SpaceStorage;
use sila_store_native::fs_store::FsStore;

fn wchar() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("wchar: ")
                    .and_then(|v| v.trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: put-ops-bench DIR [N]")?;
    let n: u64 = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(10_000);
    let engine = SpaceStorage::new(FsStore::new(&dir));
    let tree = TreeId::new("b3ee88fc46bb4ac1bd8012feac0a7d6c")?;
    let day = Day::parse("2026-03-20")?;
    let peer = "0123456789abcdef0123456789abcdef";
    let file =
        format!("{dir}/space-v1/ops/b3/ee88fc46bb4ac1bd8012feac0a7d6c/2026/03/20/{peer}-p.jsonl");
    let (w0, t0) = (wchar(), std::time::Instant::now());
    for i in 1..=n {
        let op = WireOp::set(i, peer, "v1", "text", Some(r#""a message of some length""#))?
            .to_tree_op()?;
        futures::executor::block_on(engine.put_operations(&tree, &[op], day))?;
        if i % (n / 10).max(1) == 0 {
            let size = std::fs::metadata(&file)?.len();
            let written = wchar() - w0;
            println!(
                "{{\"figure\":\"put_ops\",\"host\":\"native FsStore\",\"calls\":{i},\"file_bytes\":{size},\"bytes_written\":{written},\"ratio\":{:.3},\"ms\":{}}}",
                written as f64 / size as f64,
                t0.elapsed().as_millis()
            );
        }
    }
    Ok(())
}
