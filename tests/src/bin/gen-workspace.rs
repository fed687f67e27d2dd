//! Writes a realistic Sila workspace for the benchmarks, deterministic from a seed,
//! following SILA-FORMAT.md exactly: a space tree (configs, providers, `threads` with a
//! thread vertex per chat, `assets` folders), chat trees whose messages form a chain
//! (each message under the previous), file vertices in each chat's `assets` pointing at
//! CAS blobs (small text files and 100 KB–5 MB incompressible "images") or mutable
//! files, ops in `<peer>-m.jsonl` / `<peer>-p.jsonl` per tree, UTC day and peer, an
//! encrypted `secrets`, `space.json` and `sila.md`.
//!
//! `gen-workspace SIZE OUT [SEED]`, SIZE = `small` (≈1 MB), `medium` (≈100 MB, ≈1,000
//! files, ≈100k ops), `large` (≈1 GB, ≈10,000 files, ≈1M ops). One chat of every size
//! has exactly 1,000 ops (tree id printed), for the getOperations benchmark. `ops-heavy`
//! (≈150k ops in 200 chats, few blobs) is the opening benchmark's.

use std::fmt::Write as _;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use sila_store_core::ids::Day;

/// SplitMix64: small, fast and deterministic.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn id(&mut self) -> String {
        format!("{:016x}{:016x}", self.next(), self.next())
    }
    fn uuid(&mut self) -> String {
        let h = self.id();
        format!(
            "{}-{}-4{}-a{}-{}",
            &h[..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..]
        )
    }
    fn words(&mut self, n: usize) -> String {
        const W: &[&str] = &[
            "the", "plan", "budget", "café", "trip", "code", "review", "data", "model", "chart",
            "quarter", "numbers", "notes", "ideas", "write", "summary", "Lisbon", "tram", "coffee",
            "beans", "roast", "menu", "price", "table", "draft", "final", "check", "ship", "build",
            "test", "and", "with", "for", "a", "to", "of", "in", "on", "we", "you", "🙂", "—",
        ];
        let mut s = String::new();
        for i in 0..n {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(W[self.below(W.len() as u64) as usize]);
        }
        s
    }
}

struct Profile {
    chats: usize,
    messages: usize,
    text_files: usize,
    images: usize,
    mutable: usize,
    peers: usize,
    days: u64,
}

fn profile(size: &str) -> Option<Profile> {
    Some(match size {
        "small" => Profile {
            chats: 8,
            messages: 30,
            text_files: 12,
            images: 6,
            mutable: 4,
            peers: 2,
            days: 5,
        },
        "medium" => Profile {
            chats: 400,
            messages: 40,
            text_files: 850,
            images: 150,
            mutable: 20,
            peers: 3,
            days: 60,
        },
        "large" => Profile {
            chats: 4000,
            messages: 40,
            text_files: 8500,
            images: 1500,
            mutable: 200,
            peers: 4,
            days: 365,
        },
        // Most of the ops in chats, few blobs: about 150,000 ops in 25,000 messages.
        "ops-heavy" => Profile {
            chats: 200,
            messages: 134,
            text_files: 40,
            images: 10,
            mutable: 5,
            peers: 3,
            days: 120,
        },
        _ => return None,
    })
}

/// One tree's ops, as lines per (day, peer, kind).
struct TreeOps {
    id: String,
    counter: u64,
    files: std::collections::BTreeMap<(u64, usize, char), String>,
}

impl TreeOps {
    fn new(id: String) -> Self {
        TreeOps {
            id,
            counter: 0,
            files: Default::default(),
        }
    }
    fn mv(&mut self, day: u64, peer: usize, target: &str, parent: Option<&str>) {
        self.counter += 1;
        let parent = parent.map_or("null".to_string(), |p| format!("\"{p}\""));
        let line = format!("[{},\"{target}\",{parent}]\n", self.counter);
        self.files
            .entry((day, peer, 'm'))
            .or_default()
            .push_str(&line);
    }
    /// `value` is JSON text, as `JSON.stringify` writes it.
    fn set(&mut self, day: u64, peer: usize, target: &str, key: &str, value: &str) {
        self.counter += 1;
        let line = format!("[{},\"{target}\",\"{key}\",{value}]\n", self.counter);
        self.files
            .entry((day, peer, 'p'))
            .or_default()
            .push_str(&line);
    }
    fn ops(&self) -> u64 {
        self.counter
    }
}

fn json(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// Day number → the UTC day, counting from 2026-01-01.
fn date(day: u64) -> Day {
    // 2026-01-01 is day 20,454 since 1970-01-01.
    Day::from_unix_seconds((20_454 + day as i64) * 86_400)
}

fn iso(day: u64, secs: u64) -> String {
    format!(
        "\"{}T{:02}:{:02}:{:02}.{:03}Z\"",
        date(day),
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60,
        secs * 7 % 1000
    )
}

fn write(root: &Path, rel: &str, bytes: &[u8]) -> std::io::Result<()> {
    let p = root.join(rel);
    if let Some(d) = p.parent() {
        fs::create_dir_all(d)?;
    }
    fs::write(p, bytes)
}

fn write_tree(root: &Path, t: &TreeOps, peers: &[String]) -> std::io::Result<()> {
    for ((day, peer, kind), text) in &t.files {
        let rel = format!(
            "space-v1/ops/{}/{}/{}/{}-{kind}.jsonl",
            &t.id[..2],
            &t.id[2..],
            date(*day).folder(),
            peers[*peer]
        );
        write(root, &rel, text.as_bytes())?;
    }
    Ok(())
}

/// A CAS blob: written as it is generated (1 MiB at a time), named by its hash.
fn write_blob(root: &Path, rng: &mut Rng, size: u64, text: bool) -> std::io::Result<(String, u64)> {
    let tmp = root.join("space-v1/files/.gen-tmp");
    fs::create_dir_all(root.join("space-v1/files"))?;
    let mut h = Sha256::new();
    {
        let mut w = BufWriter::new(fs::File::create(&tmp)?);
        let mut left = size;
        if text {
            while left > 0 {
                let mut line = rng.words(12);
                line.push('\n');
                let b = &line.as_bytes()[..line.len().min(left as usize)];
                h.update(b);
                w.write_all(b)?;
                left -= b.len() as u64;
            }
        } else {
            // A PNG signature, then incompressible bytes.
            let head = b"\x89PNG\r\n\x1a\n";
            let head = &head[..head.len().min(left as usize)];
            h.update(head);
            w.write_all(head)?;
            left -= head.len() as u64;
            let mut buf = vec![0u8; 1 << 20];
            while left > 0 {
                let n = buf.len().min(left as usize);
                for c in buf[..n].chunks_mut(8) {
                    let r = rng.next().to_le_bytes();
                    c.copy_from_slice(&r[..c.len()]);
                }
                h.update(&buf[..n]);
                w.write_all(&buf[..n])?;
                left -= n as u64;
            }
        }
        w.flush()?;
    }
    let hash = sila_store_core::ids::hex(&h.finalize());
    let dst = root.join(format!(
        "space-v1/files/static/sha256/{}/{}",
        &hash[..2],
        &hash[2..]
    ));
    fs::create_dir_all(dst.parent().unwrap_or(root))?;
    fs::rename(&tmp, dst)?;
    Ok((hash, size))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let size = args
        .next()
        .ok_or("usage: gen-workspace small|medium|large|ops-heavy OUT [SEED]")?;
    let out = PathBuf::from(args.next().ok_or("OUT missing")?);
    let seed: u64 = args.next().as_deref().unwrap_or("1").parse()?;
    let p = profile(&size).ok_or("SIZE is small, medium, large or ops-heavy")?;
    if out.exists() {
        return Err(format!("{} exists", out.display()).into());
    }
    fs::create_dir_all(&out)?;
    let mut rng = Rng(seed ^ 0x5A5A_1234);
    let peers: Vec<String> = (0..p.peers).map(|_| rng.id()).collect();
    let space_id = rng.id();

    // Blobs first: the file vertices point at them.
    let mut blobs: Vec<(String, u64, &str)> = Vec::new();
    for _ in 0..p.text_files {
        let n = 1024 + rng.below(19 * 1024);
        let (h, s) = write_blob(&out, &mut rng, n, true)?;
        blobs.push((h, s, "text/markdown"));
    }
    for _ in 0..p.images {
        // 100 KB to 5 MB, most near the low end (cubed uniform on a log scale).
        let u = rng.unit();
        let n = (100_000.0 * 50f64.powf(u * u * u)) as u64;
        let (h, s) = write_blob(&out, &mut rng, n, false)?;
        blobs.push((h, s, "image/png"));
    }
    let mut mutables = Vec::new();
    for i in 0..p.mutable {
        let u = rng.uuid();
        let hex: String = u.chars().filter(|c| *c != '-').collect();
        let text = format!("# Note {i}\n\n{}\n", rng.words(60));
        write(
            &out,
            &format!("space-v1/files/var/uuid/{}/{}", &hex[..2], &hex[2..]),
            text.as_bytes(),
        )?;
        mutables.push((u, text.len()));
    }

    // The space tree.
    let mut space = TreeOps::new(space_id.clone());
    let sp = |rng: &mut Rng| rng.below(p.peers as u64) as usize;
    let day0 = 0;
    space.mv(day0, 0, &space_id, None);
    space.set(day0, 0, &space_id, "_c", &iso(day0, 3600));
    space.set(day0, 0, &space_id, "name", &json("Generated workspace"));
    space.set(day0, 0, &space_id, "version", &json("0"));
    let child = |t: &mut TreeOps, rng: &mut Rng, name: &str| {
        let v = rng.id();
        t.mv(day0, 0, &v, Some(&space_id));
        t.set(day0, 0, &v, "name", &json(name));
        t.set(day0, 0, &v, "_c", &iso(day0, 3601));
        v
    };
    let configs = child(&mut space, &mut rng, "configs");
    let threads = child(&mut space, &mut rng, "threads");
    let providers = child(&mut space, &mut rng, "providers");
    let assets = child(&mut space, &mut rng, "assets");
    let cfg = rng.id();
    space.mv(day0, 0, &cfg, Some(&configs));
    space.set(day0, 0, &cfg, "id", &json("writer"));
    space.set(day0, 0, &cfg, "name", &json("Writer"));
    let prov = rng.id();
    space.mv(day0, 0, &prov, Some(&providers));
    space.set(day0, 0, &prov, "id", &json("openai"));
    space.set(day0, 0, &prov, "type", &json("cloud"));
    // Mutable notes under the space's assets.
    for (u, len) in &mutables {
        let v = rng.id();
        space.mv(day0, 0, &v, Some(&assets));
        space.set(day0, 0, &v, "name", &json(&format!("{}.md", &u[..8])));
        space.set(day0, 0, &v, "mimeType", &json("text/markdown"));
        space.set(day0, 0, &v, "size", &len.to_string());
        space.set(day0, 0, &v, "id", &json(u));
    }

    // Chats: blobs are shared out over them round-robin.
    let mut blob_iter = blobs.iter().cycle().take(blobs.len());
    let blobs_per_chat = blobs.len().div_ceil(p.chats);
    let mut total_ops = 0;
    let mut thousand = None;
    // A peer's clock only grows (Sila sets it past every op it applies), so the space
    // tree's ops on a later day have higher counters: the thread vertices are written
    // in the order the chats were created, not the order they are generated in.
    let mut thread_vertices = Vec::new();
    for c in 0..p.chats {
        let tree_id = rng.id();
        let mut t = TreeOps::new(tree_id.clone());
        let mut day = rng.below(p.days);
        let peer = sp(&mut rng);
        let title = rng.words(3);
        // The thread vertex in the space tree (written when the chat was created, so
        // added below in the order of the chats' days).
        let tv = rng.id();
        let mut secs = 8 * 3600 + rng.below(8 * 3600);
        thread_vertices.push((day, secs, peer, tv, tree_id.clone(), title.clone()));
        t.mv(day, peer, &tree_id, None);
        t.set(day, peer, &tree_id, "_c", &iso(day, secs));
        t.set(day, peer, &tree_id, "appId", &json("default-chat"));
        t.set(day, peer, &tree_id, "name", &json(&title));
        t.set(day, peer, &tree_id, "configId", &json("writer"));
        let messages = rng.id();
        t.mv(day, peer, &messages, Some(&tree_id));
        t.set(day, peer, &messages, "name", &json("messages"));
        let chat_assets = rng.id();
        t.mv(day, peer, &chat_assets, Some(&tree_id));
        t.set(day, peer, &chat_assets, "name", &json("assets"));
        let mut files = Vec::new();
        for _ in 0..blobs_per_chat {
            let Some((hash, size, mime)) = blob_iter.next() else {
                break;
            };
            let v = rng.id();
            t.mv(day, peer, &v, Some(&chat_assets));
            t.set(
                day,
                peer,
                &v,
                "name",
                &json(&format!(
                    "{}.{}",
                    &hash[..8],
                    if *mime == "image/png" { "png" } else { "md" }
                )),
            );
            t.set(day, peer, &v, "mimeType", &json(mime));
            t.set(day, peer, &v, "size", &size.to_string());
            t.set(day, peer, &v, "hash", &json(hash));
            files.push(v);
        }
        // The message chain; the first chat is sized to exactly 1,000 ops.
        let target = if c == 0 { Some(1000) } else { None };
        let mut parent = messages.clone();
        let mut i = 0;
        loop {
            if target.is_none() && i >= p.messages {
                break;
            }
            if let Some(n) = target {
                if t.ops() + 8 > n {
                    break;
                }
            }
            let v = rng.id();
            let user = i % 2 == 0;
            // Sessions now and then move to a later day.
            if rng.below(10) == 0 {
                day = (day + 1 + rng.below(3)).min(p.days - 1);
            }
            secs += 20 + rng.below(600);
            let peer = if user { sp(&mut rng) } else { peer };
            t.mv(day, peer, &v, Some(&parent));
            t.set(day, peer, &v, "_c", &iso(day, secs));
            t.set(
                day,
                peer,
                &v,
                "role",
                &json(if user { "user" } else { "assistant" }),
            );
            let n = 5 + rng.below(if user { 30 } else { 120 }) as usize;
            t.set(day, peer, &v, "text", &json(&rng.words(n)));
            if !user {
                t.set(day, peer, &v, "modelProvider", &json("openai"));
                t.set(day, peer, &v, "modelId", &json("gpt-4o"));
                t.set(day, peer, &v, "inProgress", "false");
            } else if !files.is_empty() && rng.below(6) == 0 {
                let f = &files[rng.below(files.len() as u64) as usize];
                t.set(
                    day,
                    peer,
                    &v,
                    "files",
                    &format!("[{{\"tree\":\"{tree_id}\",\"vertex\":\"{f}\"}}]"),
                );
            }
            parent = v;
            i += 1;
        }
        if let Some(n) = target {
            // Top up to exactly n ops with edits of the last message.
            while t.ops() < n {
                t.set(day, peer, &parent, "main", "true");
            }
            thousand = Some(tree_id.clone());
        }
        total_ops += t.ops();
        write_tree(&out, &t, &peers)?;
    }
    thread_vertices.sort_by_key(|(day, secs, ..)| (*day, *secs));
    for (day, _, peer, tv, tree_id, title) in &thread_vertices {
        space.mv(*day, *peer, tv, Some(&threads));
        space.set(*day, *peer, tv, "tid", &json(tree_id));
        space.set(*day, *peer, tv, "name", &json(title));
    }
    total_ops += space.ops();
    write_tree(&out, &space, &peers)?;

    write(
        &out,
        "space-v1/space.json",
        format!("{{\"id\":\"{space_id}\"}}").as_bytes(),
    )?;
    write(
        &out,
        "sila.md",
        sila_store_core::layout::SILA_MD_TEXT.as_bytes(),
    )?;
    let secrets = sila_store_core::secrets::encrypt(
        &space_id,
        &[("api-key-openai".into(), "sk-generated".into())],
        [7; 12],
        sila_store_core::secrets::KeyVariant::RawSpaceId,
    )?;
    write(&out, "space-v1/secrets", secrets.as_bytes())?;
    let mut report = String::new();
    let _ = write!(
        report,
        "{{\"size\":\"{size}\",\"seed\":{seed},\"space\":\"{space_id}\",\"ops\":{total_ops},\"blobs\":{},\"mutable\":{},\"tree1000\":\"{}\"}}",
        blobs.len(),
        mutables.len(),
        thousand.unwrap_or_default()
    );
    println!("{report}");
    Ok(())
}
