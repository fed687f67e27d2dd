//! How results are printed for a person (JSON goes out as it is).

use std::io::Write;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use sila_store_core::entries::Progress;
use sila_store_core::inspect::{VerifyReport, WorkspaceInfo};
use sila_store_core::model::{ChatInfo, MessageInfo, SpaceModel, SpaceSummary, VertexInfo};
use sila_store_core::reptree::RepTree;
use sila_store_native::tiers::TierReport;

pub fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:30}] {bytes}/{total_bytes} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

pub fn update(bar: &ProgressBar, p: Progress<'_>) {
    bar.set_length(p.total);
    bar.set_position(p.done);
    if bar.message() != p.phase {
        bar.set_message(p.phase.to_string());
    }
}

pub fn print_tier(out: &mut dyn Write, r: &TierReport, json: bool) -> std::io::Result<()> {
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

/// A vertex as a JSON object with its property values as JSON (not text).
pub fn vertex_json(v: &VertexInfo) -> serde_json::Value {
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

/// Levels of indentation `tree` draws; deeper vertices are drawn at this level with
/// their depth in brackets, so a chain of n vertices prints O(n) bytes, not O(n²).
const MAX_INDENT: usize = 32;

/// A tree drawn from its root (then what lies under the null vertex), each vertex once
/// at most: no recursion, so a chain of any depth draws.
pub fn print_tree(out: &mut dyn Write, t: &RepTree) -> std::io::Result<()> {
    let mut budget = t.vertex_count();
    match t.root() {
        Some(r) => draw(out, t, r.id(), 0, &mut budget)?,
        None => writeln!(out, "(no root: RepTree would refuse this tree)")?,
    }
    if t.vertex("0")
        .is_some_and(|z| z.children_ids().next().is_some())
    {
        writeln!(out, "deleted (under \"0\"):")?;
        let mut budget = t.vertex_count();
        for c in t.children("0") {
            draw(out, t, c.id(), 1, &mut budget)?;
        }
    }
    Ok(())
}

/// Draws the subtree of `id` depth first, children sorted as RepTree sorts them, until
/// `budget` vertices are drawn.
fn draw(
    out: &mut dyn Write,
    t: &RepTree,
    id: &str,
    depth: usize,
    budget: &mut usize,
) -> std::io::Result<()> {
    let mut stack = vec![(id.to_string(), depth)];
    while let Some((id, depth)) = stack.pop() {
        let Some(v) = t.vertex(&id) else { continue };
        if *budget == 0 {
            break;
        }
        *budget -= 1;
        let label = v
            .prop("name")
            .or(v.prop("_n"))
            .map(|n| serde_json::from_str::<String>(n).unwrap_or_else(|_| n.to_string()))
            .unwrap_or_default();
        let extra: Vec<String> = v
            .props()
            .filter(|(k, _)| !matches!(*k, "name" | "_c" | "_n" | "text"))
            .map(|(k, val)| {
                let val = if val.chars().count() > 40 {
                    format!("{}…", val.chars().take(40).collect::<String>())
                } else {
                    val.to_string()
                };
                format!("{k}={val}")
            })
            .collect();
        let indent = if depth > MAX_INDENT {
            format!("{}[{depth}] ", "  ".repeat(MAX_INDENT))
        } else {
            "  ".repeat(depth)
        };
        writeln!(out, "{indent}{} {}  {}", v.id(), label, extra.join(" "))?;
        for c in t.children(&id).into_iter().rev() {
            stack.push((c.id().to_string(), depth + 1));
        }
    }
    Ok(())
}

pub fn print_show(out: &mut dyn Write, s: &SpaceSummary) -> std::io::Result<()> {
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

pub fn print_chat(
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

pub fn print_info(out: &mut dyn Write, i: &WorkspaceInfo) -> std::io::Result<()> {
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

pub fn print_verify(
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
