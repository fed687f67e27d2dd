//! `sila-store`: convert, verify and inspect Sila workspaces in any format.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use sila_store_core::entries::{read_entry, read_space_id, Progress};
use sila_store_core::ids::{Day, TreeId};
use sila_store_core::inspect::{self, VerifyReport, WorkspaceInfo};
use sila_store_core::layout::EntryKind;
use sila_store_core::model::{
    vertex_list, ChatInfo, MessageInfo, SpaceModel, SpaceSummary, VertexInfo,
};
use sila_store_core::reptree::RepTree;
use sila_store_core::{Error, Result};
use sila_store_native::tiers::{S3Options, TierReport, TierStore, WireOp};
use sila_store_native::{convert, with_source, ConvertOptions};

/// Convert, verify and inspect Sila workspaces: plain folders, SQLite archives
/// (`*.db`, `*.sqlite`) and ZIP archives (`*.zip`). Every conversion is byte for byte
/// and verified before it replaces anything.
#[derive(Parser)]
#[command(name = "sila-store", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Convert SRC to DST; the format comes from the path (folder, *.db/*.sqlite, *.zip).
    Convert {
        /// Workspace to read (folder, SQLite or ZIP).
        src: PathBuf,
        /// Where to write it.
        dst: PathBuf,
        /// Replace DST if it exists.
        #[arg(long)]
        force: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check everything that can be checked; exit code 0 only if all holds.
    Verify {
        /// Workspace to check.
        src: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Space id, name, trees, ops, peers, days, files, sizes.
    Info {
        /// Workspace to inspect.
        src: PathBuf,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The ops of a tree stored in a day range, as the exact lines Sila wrote.
    Ops {
        /// Workspace to read.
        src: PathBuf,
        /// Tree id.
        #[arg(long)]
        tree: String,
        /// First day (YYYY-MM-DD), inclusive.
        #[arg(long)]
        from: Option<String>,
        /// Last day (YYYY-MM-DD), inclusive.
        #[arg(long)]
        to: Option<String>,
        /// One JSON object per op instead of the raw lines.
        #[arg(long)]
        json: bool,
    },
    /// The space as Sila shows it: name, chats with message counts, files, reference checks.
    Show {
        /// Workspace to read (any format).
        src: PathBuf,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// A chat as Markdown (main branch), attachments listed. CHAT is a tree id, a
    /// `threads` vertex id, or a title.
    Chat {
        /// Workspace to read (any format).
        src: PathBuf,
        /// Which chat.
        chat: String,
        /// Print the messages as JSON.
        #[arg(long)]
        json: bool,
    },
    /// A tree's vertices, rebuilt as RepTree does.
    Tree {
        /// Workspace to read (any format).
        src: PathBuf,
        /// Tree id.
        tree: String,
        /// Print every vertex as JSON (id, parent, props, children).
        #[arg(long)]
        json: bool,
    },
    /// Upload a workspace folder's active files to a store (only new or changed files).
    Push {
        #[command(flatten)]
        s3: S3Flags,
        /// Workspace folder.
        dir: PathBuf,
        /// `s3://bucket/prefix` (AWS_* variables configure it), `file:///path` or `memory://`.
        store: String,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Download a space from a store into a folder (only missing or changed files).
    Pull {
        #[command(flatten)]
        s3: S3Flags,
        /// The store.
        store: String,
        /// The space id.
        space_id: String,
        /// Where to put it.
        dir: PathBuf,
        /// Unarchive the space first if it is archived (open on access).
        #[arg(long)]
        unarchive: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Move a space from the active tier to one SQLite archive (crash-safe; rerun to finish).
    Archive {
        #[command(flatten)]
        s3: S3Flags,
        /// The space id.
        space_id: String,
        /// The store.
        #[arg(long)]
        store: String,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Move an archived space back to the active tier (crash-safe; rerun to finish).
    Unarchive {
        #[command(flatten)]
        s3: S3Flags,
        /// The space id.
        space_id: String,
        /// The store.
        #[arg(long)]
        store: String,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Archive every active space idle for longer than --inactive-days.
    Sweep {
        #[command(flatten)]
        s3: S3Flags,
        /// The store.
        #[arg(long)]
        store: String,
        /// Days without activity before a space is archived.
        #[arg(long, default_value_t = 7)]
        inactive_days: u64,
        /// Say what would be archived, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Spaces archived at once.
        #[arg(long, default_value_t = 2)]
        concurrency: usize,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Sync a tree with a store, as Sila's server does: reads the client's ops (JSON
    /// array of Sila wire ops) on stdin, stores those the server lacks in today's ops
    /// files, prints those the client lacks.
    Sync {
        #[command(flatten)]
        s3: S3Flags,
        /// The store.
        #[arg(long)]
        store: String,
        /// The space id.
        space_id: String,
        /// The tree id.
        tree: String,
        /// The client's state vector (`{"peer":[[start,end],…]}`) instead of, or besides, its ops.
        #[arg(long)]
        state_vector: Option<String>,
        /// Print as JSON (the output is JSON in any case).
        #[arg(long)]
        json: bool,
    },
    /// The names in the space's `secrets` file (values only with --show-values).
    Secrets {
        /// Workspace to read.
        src: PathBuf,
        /// Print the secret values too.
        #[arg(long)]
        show_values: bool,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = match &cli.command {
        Command::Convert { json, .. }
        | Command::Verify { json, .. }
        | Command::Info { json, .. }
        | Command::Ops { json, .. }
        | Command::Secrets { json, .. }
        | Command::Show { json, .. }
        | Command::Chat { json, .. }
        | Command::Tree { json, .. }
        | Command::Push { json, .. }
        | Command::Pull { json, .. }
        | Command::Archive { json, .. }
        | Command::Unarchive { json, .. }
        | Command::Sweep { json, .. }
        | Command::Sync { json, .. } => *json,
    };
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            if json {
                println!(
                    "{}",
                    json!({"error": {"code": e.code(), "message": e.to_string()}})
                );
            } else {
                eprintln!("error [{}]: {e}", e.code());
            }
            ExitCode::FAILURE
        }
    }
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:30}] {bytes}/{total_bytes} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

fn update(bar: &ProgressBar, p: Progress<'_>) {
    bar.set_length(p.total);
    bar.set_position(p.done);
    if bar.message() != p.phase {
        bar.set_message(p.phase.to_string());
    }
}

fn run(command: Command) -> Result<ExitCode> {
    let out = &mut std::io::stdout().lock();
    let w = |e: std::io::Error| Error::io("stdout", e);
    match command {
        Command::Convert {
            src,
            dst,
            force,
            json,
        } => {
            let bar = progress_bar();
            let report = convert(&src, &dst, ConvertOptions { force }, &mut |p| {
                update(&bar, p)
            });
            bar.finish_and_clear();
            let report = report?;
            if json {
                writeln!(out, "{}", json!(report)).map_err(w)?;
            } else {
                writeln!(
                    out,
                    "converted {} ({}) to {} ({}): {} files, {} bytes, verified; output {} bytes",
                    src.display(),
                    report.from_format,
                    dst.display(),
                    report.to_format,
                    report.files,
                    report.bytes,
                    report.output_bytes
                )
                .map_err(w)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { src, json } => {
            let bar = progress_bar();
            let report = with_source(&src, |s| Ok(inspect::verify(s, &mut |p| update(&bar, p))));
            bar.finish_and_clear();
            let report = match report {
                Ok(r) => r,
                Err(e) => VerifyReport {
                    ok: false,
                    errors: vec![inspect::Problem {
                        code: e.code().into(),
                        path: None,
                        message: e.to_string(),
                    }],
                    ..Default::default()
                },
            };
            if json {
                writeln!(out, "{}", json!(report)).map_err(w)?;
            } else {
                print_verify(out, &src, &report).map_err(w)?;
            }
            Ok(if report.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Info { src, json } => {
            let info = with_source(&src, inspect::info)?;
            if json {
                writeln!(out, "{}", json!(info)).map_err(w)?;
            } else {
                print_info(out, &info).map_err(w)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Ops {
            src,
            tree,
            from,
            to,
            json,
        } => {
            let tree = TreeId::new(&tree)?;
            let from = from.as_deref().map(Day::parse).transpose()?;
            let to = to.as_deref().map(Day::parse).transpose()?;
            let ops = with_source(&src, |s| s.get_operations(&tree, from, to))?;
            for op in ops {
                if json {
                    writeln!(out, "{}", op.to_json()).map_err(w)?;
                } else {
                    writeln!(out, "{}", op.line).map_err(w)?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Push {
            s3,
            dir,
            store,
            json,
        } => {
            let s = s3.open(&store)?;
            let r = runtime()?.block_on(s.push(&dir))?;
            print_tier(out, &r, json).map_err(w)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Pull {
            s3,
            store,
            space_id,
            dir,
            unarchive,
            json,
        } => {
            let s = s3.open(&store)?;
            let rt = runtime()?;
            let r = if unarchive {
                rt.block_on(s.open_space(&space_id, &dir))?
            } else {
                rt.block_on(s.pull(&space_id, &dir))?
            };
            print_tier(out, &r, json).map_err(w)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Archive {
            s3,
            space_id,
            store,
            json,
        } => {
            let s = s3.open(&store)?;
            let r = runtime()?.block_on(s.archive(&space_id))?;
            print_tier(out, &r, json).map_err(w)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Unarchive {
            s3,
            space_id,
            store,
            json,
        } => {
            let s = s3.open(&store)?;
            let r = runtime()?.block_on(s.unarchive(&space_id))?;
            print_tier(out, &r, json).map_err(w)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Sweep {
            s3,
            store,
            inactive_days,
            dry_run,
            concurrency,
            json,
        } => {
            let s = s3.open(&store)?;
            let items = runtime()?.block_on(s.sweep(inactive_days, dry_run, concurrency))?;
            if json {
                writeln!(out, "{}", json!(items)).map_err(w)?;
            } else {
                for i in &items {
                    writeln!(out, "{}  {}", i.space_id, i.outcome).map_err(w)?;
                }
                let archived = items.iter().filter(|i| i.outcome == "archived").count();
                let failed = items
                    .iter()
                    .filter(|i| i.outcome.starts_with("failed"))
                    .count();
                writeln!(
                    out,
                    "sweep: {} spaces, {archived} archived, {failed} failed{}",
                    items.len(),
                    if dry_run { " (dry run)" } else { "" }
                )
                .map_err(w)?;
            }
            let failed = items.iter().any(|i| i.outcome.starts_with("failed"));
            Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Sync {
            s3,
            store,
            space_id,
            tree,
            state_vector,
            json: _,
        } => {
            let s = s3.open(&store)?;
            let tree = TreeId::new(&tree)?;
            let mut input = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut input)
                .map_err(|e| Error::io("stdin", e))?;
            let ops: Vec<WireOp> = if input.trim().is_empty() {
                Vec::new()
            } else {
                sila_store_core::ops::wire::from_json(&input)?
            };
            let sv: Option<std::collections::BTreeMap<String, Vec<[u64; 2]>>> = state_vector
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| Error::InvalidArgument(format!("--state-vector: {e}")))?;
            let missing = runtime()?.block_on(s.sync_tree(&space_id, &tree, &ops, sv.as_ref()))?;
            // Values go out as their stored text (no JSON model in between).
            writeln!(out, "{}", sila_store_core::ops::wire::to_json(&missing)?).map_err(w)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { src, json } => {
            let summary = with_source(&src, |s| Ok(SpaceModel::load(s)?.summary()))?;
            if json {
                writeln!(out, "{}", json!(summary)).map_err(w)?;
            } else {
                print_show(out, &summary).map_err(w)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Chat { src, chat, json } => {
            let model = with_source(&src, SpaceModel::load)?;
            let chats = model.chats();
            let found = chats
                .iter()
                .find(|c| c.tree_id == chat || c.thread_vertex == chat)
                .or_else(|| {
                    chats
                        .iter()
                        .find(|c| c.title.as_deref() == Some(chat.as_str()))
                })
                .cloned()
                .or_else(|| {
                    // A chat tree that is no longer listed in `threads`.
                    model
                        .trees
                        .contains_key(&chat)
                        .then(|| inspect_chat_tree(&model, &chat))
                })
                .ok_or_else(|| Error::NotFound(format!("chat {chat:?}")))?;
            let messages = model.messages(&found.tree_id);
            if json {
                writeln!(out, "{}", json!({"chat": found, "messages": messages})).map_err(w)?;
            } else {
                print_chat(out, &model, &found, &messages).map_err(w)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Tree { src, tree, json } => {
            let id = TreeId::new(&tree)?;
            let t = with_source(&src, |s| sila_store_core::model::load_tree(s, &id))?;
            if t.vertices().is_empty() {
                return Err(Error::NotFound(format!("tree {tree} has no ops")));
            }
            if json {
                for v in vertex_list(&t) {
                    writeln!(out, "{}", vertex_json(&v)).map_err(w)?;
                }
            } else {
                print_tree(out, &t).map_err(w)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Secrets {
            src,
            show_values,
            json,
        } => {
            let (space_id, bytes) = with_source(&src, read_secrets)?;
            let (secrets, variant) = sila_store_core::secrets::decrypt(&space_id, &bytes)?;
            if json {
                let map: serde_json::Map<String, serde_json::Value> = secrets
                    .iter()
                    .map(|(k, v)| {
                        let v = if show_values {
                            json!(v)
                        } else {
                            serde_json::Value::Null
                        };
                        (k.clone(), v)
                    })
                    .collect();
                writeln!(
                    out,
                    "{}",
                    json!({"keyVariant": format!("{variant:?}"), "secrets": map})
                )
                .map_err(w)?;
            } else {
                for (k, v) in &secrets {
                    if show_values {
                        writeln!(out, "{k}\t{v}").map_err(w)?;
                    } else {
                        writeln!(out, "{k}").map_err(w)?;
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The space id (from `space.json`) and the bytes of `secrets`.
fn read_secrets(s: &mut dyn sila_store_core::entries::EntrySource) -> Result<(String, Vec<u8>)> {
    let id = read_space_id(s)?
        .ok_or_else(|| Error::Secrets("no space.json with an id: the key is unknown".into()))?;
    let bytes = read_entry(s, &EntryKind::Secrets)?
        .ok_or_else(|| Error::NotFound(EntryKind::Secrets.path()))?;
    Ok((id, bytes))
}

/// S3 settings as flags; each overrides its `AWS_*` variable.
#[derive(clap::Args, Clone, Debug, Default)]
struct S3Flags {
    /// S3 endpoint URL (else AWS_ENDPOINT).
    #[arg(long)]
    s3_endpoint: Option<String>,
    /// S3 region (else AWS_REGION).
    #[arg(long)]
    s3_region: Option<String>,
    /// Access key id (else AWS_ACCESS_KEY_ID).
    #[arg(long)]
    s3_access_key_id: Option<String>,
    /// Secret access key (else AWS_SECRET_ACCESS_KEY).
    #[arg(long)]
    s3_secret_access_key: Option<String>,
    /// Allow plain HTTP to the endpoint (else AWS_ALLOW_HTTP).
    #[arg(long)]
    s3_allow_http: bool,
    /// Path-style requests (`endpoint/bucket/key`), as most S3-compatible servers want.
    #[arg(long)]
    s3_path_style: bool,
}

impl S3Flags {
    fn open(&self, store: &str) -> Result<TierStore> {
        TierStore::open_with(
            store,
            &S3Options {
                endpoint: self.s3_endpoint.clone(),
                region: self.s3_region.clone(),
                access_key_id: self.s3_access_key_id.clone(),
                secret_access_key: self.s3_secret_access_key.clone(),
                allow_http: self.s3_allow_http.then_some(true),
                virtual_hosted_style: self.s3_path_style.then_some(false),
            },
        )
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io("tokio runtime", e))
}

fn print_tier(out: &mut dyn Write, r: &TierReport, json: bool) -> std::io::Result<()> {
    if json {
        writeln!(out, "{}", json!(r))
    } else {
        writeln!(
            out,
            "{} {}: {} moved ({} bytes), {} already in place, {} requests",
            r.action, r.space_id, r.transferred, r.bytes, r.skipped, r.requests
        )
    }
}

fn inspect_chat_tree(model: &SpaceModel, tree: &str) -> ChatInfo {
    ChatInfo {
        tree_id: tree.to_string(),
        thread_vertex: String::new(),
        title: model
            .trees
            .get(tree)
            .and_then(|t| t.root())
            .and_then(|r| r.prop("name"))
            .and_then(|n| serde_json::from_str(n).ok()),
        messages: model.message_count(tree),
        main_branch: model.messages(tree).len() as u64,
        has_ops: true,
    }
}

/// A vertex as a JSON object with its property values as JSON (not text).
fn vertex_json(v: &VertexInfo) -> serde_json::Value {
    let props: serde_json::Map<String, serde_json::Value> = v
        .props
        .iter()
        .map(|p| {
            (
                p.key.clone(),
                serde_json::from_str(&p.value).unwrap_or(serde_json::Value::Null),
            )
        })
        .collect();
    json!({"id": v.id, "parent": v.parent, "props": props, "children": v.children})
}

fn print_tree(out: &mut dyn Write, t: &RepTree) -> std::io::Result<()> {
    fn walk(
        out: &mut dyn Write,
        t: &RepTree,
        id: &str,
        depth: usize,
        budget: &mut usize,
    ) -> std::io::Result<()> {
        let Some(v) = t.vertex(id) else { return Ok(()) };
        if *budget == 0 {
            return Ok(());
        }
        *budget -= 1;
        let label = v
            .prop("name")
            .or(v.prop("_n"))
            .map(|n| serde_json::from_str::<String>(n).unwrap_or_else(|_| n.to_string()))
            .unwrap_or_default();
        let extra: Vec<String> = v
            .props
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "name" | "_c" | "_n" | "text"))
            .map(|(k, val)| {
                let val = if val.chars().count() > 40 {
                    format!("{}…", val.chars().take(40).collect::<String>())
                } else {
                    val.clone()
                };
                format!("{k}={val}")
            })
            .collect();
        writeln!(
            out,
            "{}{} {}  {}",
            "  ".repeat(depth),
            v.id,
            label,
            extra.join(" ")
        )?;
        for c in t.children(id) {
            walk(out, t, &c.id, depth + 1, budget)?;
        }
        Ok(())
    }
    let mut budget = t.vertices().len();
    match t.root() {
        Some(r) => walk(out, t, &r.id.clone(), 0, &mut budget)?,
        None => writeln!(out, "(no root: RepTree would refuse this tree)")?,
    }
    if t.vertex("0").is_some_and(|z| !z.children.is_empty()) {
        writeln!(out, "deleted (under \"0\"):")?;
        for c in t.children("0") {
            let mut b = t.vertices().len();
            walk(out, t, &c.id, 1, &mut b)?;
        }
    }
    Ok(())
}

fn print_show(out: &mut dyn Write, s: &SpaceSummary) -> std::io::Result<()> {
    writeln!(out, "space    {}", s.name.as_deref().unwrap_or("(unnamed)"))?;
    writeln!(
        out,
        "id       {}",
        s.space_id.as_deref().unwrap_or("(no space.json)")
    )?;
    writeln!(out, "chats    {} ({} messages)", s.chats.len(), s.messages)?;
    for c in &s.chats {
        writeln!(
            out,
            "  {:>4} msgs ({:>3} on the main branch)  {}  {}{}",
            c.messages,
            c.main_branch,
            c.tree_id,
            c.title.as_deref().unwrap_or("(untitled)"),
            if c.has_ops { "" } else { "  [no ops on disk]" }
        )?;
    }
    writeln!(out, "files    {}", s.files.len())?;
    for f in &s.files {
        writeln!(
            out,
            "  {}/{}  {}  {} bytes  {}{}",
            f.folder,
            f.name.as_deref().unwrap_or("?"),
            f.mime_type.as_deref().unwrap_or("?"),
            f.size.map(|n| n.to_string()).unwrap_or_else(|| "?".into()),
            f.hash.as_deref().or(f.mutable_id.as_deref()).unwrap_or("-"),
            if f.present { "" } else { "  [missing]" }
        )?;
    }
    for e in &s.errors {
        writeln!(out, "error    [{}] {}", e.code, e.message)?;
    }
    for w in &s.warnings {
        writeln!(out, "warning  [{}] {}", w.code, w.message)?;
    }
    Ok(())
}

fn print_chat(
    out: &mut dyn Write,
    model: &SpaceModel,
    c: &ChatInfo,
    messages: &[MessageInfo],
) -> std::io::Result<()> {
    writeln!(out, "# {}\n", c.title.as_deref().unwrap_or("(untitled)"))?;
    if !c.has_ops {
        writeln!(
            out,
            "_This chat's tree ({}) has no ops in the workspace._",
            c.tree_id
        )?;
    }
    for m in messages {
        writeln!(
            out,
            "**{}**{}{}\n",
            m.role.as_deref().unwrap_or("?"),
            m.model
                .as_deref()
                .map(|x| format!(" ({x})"))
                .unwrap_or_default(),
            m.created_at
                .as_deref()
                .map(|t| format!(" · {t}"))
                .unwrap_or_default()
        )?;
        if let Some(t) = &m.text {
            writeln!(out, "{t}\n")?;
        }
        for r in &m.files {
            let f = model
                .trees
                .get(&r.tree)
                .and_then(|t| t.vertex(&r.vertex))
                .map(|v| {
                    let s = |k| {
                        v.prop(k)
                            .and_then(|x| serde_json::from_str::<String>(x).ok())
                    };
                    format!(
                        "{} ({}, {})",
                        s("name").unwrap_or_default(),
                        s("mimeType").unwrap_or_default(),
                        s("hash").or(s("id")).unwrap_or_default()
                    )
                })
                .unwrap_or_else(|| format!("missing vertex {} in tree {}", r.vertex, r.tree));
            writeln!(out, "- attachment: {f}")?;
        }
        if !m.files.is_empty() {
            writeln!(out)?;
        }
    }
    Ok(())
}

fn print_info(out: &mut dyn Write, i: &WorkspaceInfo) -> std::io::Result<()> {
    writeln!(out, "format      {}", i.format)?;
    writeln!(
        out,
        "space id    {}",
        i.space_id.as_deref().unwrap_or("(no space.json)")
    )?;
    writeln!(
        out,
        "name        {}",
        i.space_name.as_deref().unwrap_or("(unknown)")
    )?;
    writeln!(
        out,
        "ops         {} in {} files ({} moves, {} props, {} kept raw)",
        i.ops, i.ops_files, i.moves, i.props, i.raw_lines
    )?;
    writeln!(out, "trees       {}", i.trees.len())?;
    writeln!(out, "peers       {}", i.peers)?;
    writeln!(
        out,
        "days        {}{}",
        i.days.len(),
        match (i.days.first(), i.days.last()) {
            (Some(a), Some(b)) => format!(" ({a} .. {b})"),
            _ => String::new(),
        }
    )?;
    writeln!(
        out,
        "static      {} files, {} bytes",
        i.static_files, i.static_bytes
    )?;
    writeln!(
        out,
        "mutable     {} files, {} bytes",
        i.mutable_files, i.mutable_bytes
    )?;
    writeln!(
        out,
        "secrets     {}",
        if i.has_secrets { "yes" } else { "no" }
    )?;
    if !i.other_files.is_empty() {
        writeln!(out, "other       {}", i.other_files.join(", "))?;
    }
    writeln!(
        out,
        "total       {} files, {} bytes",
        i.files, i.total_bytes
    )?;
    for t in &i.trees {
        writeln!(
            out,
            "  tree {} {:>6} ops  {}{}",
            t.id,
            t.ops,
            t.app_id
                .as_deref()
                .map(|a| format!("[{a}] "))
                .unwrap_or_default(),
            t.name.as_deref().unwrap_or("")
        )?;
    }
    Ok(())
}

fn print_verify(
    out: &mut dyn Write,
    src: &std::path::Path,
    r: &VerifyReport,
) -> std::io::Result<()> {
    for p in &r.errors {
        writeln!(
            out,
            "error   [{}] {}{}",
            p.code,
            p.path
                .as_deref()
                .map(|p| format!("{p}: "))
                .unwrap_or_default(),
            p.message
        )?;
    }
    for p in &r.warnings {
        writeln!(
            out,
            "warning [{}] {}{}",
            p.code,
            p.path
                .as_deref()
                .map(|p| format!("{p}: "))
                .unwrap_or_default(),
            p.message
        )?;
    }
    writeln!(
        out,
        "{}: {} ({} files, {} bytes checked; {} errors, {} warnings)",
        src.display(),
        if r.ok { "OK" } else { "FAILED" },
        r.files_checked,
        r.bytes_checked,
        r.errors.len(),
        r.warnings.len()
    )
}
