//! What each subcommand does.

use std::io::Write;
use std::process::ExitCode;

use serde_json::json;
use sila_store_core::entries::{read_entry, read_space_id};
use sila_store_core::ids::{Day, TreeId};
use sila_store_core::inspect::{self, VerifyReport};
use sila_store_core::layout::EntryKind;
use sila_store_core::model::{vertex_list, SpaceModel};
use sila_store_core::{Error, Result};
use sila_store_native::tiers::WireOp;
use sila_store_native::{convert, with_source, ConvertOptions};

use crate::args::Command;
use crate::print::{
    print_chat, print_info, print_show, print_tier, print_tree, print_verify, progress_bar, update,
    vertex_json,
};

/// Runs one subcommand, printing to stdout.
pub fn run(command: Command, json: bool) -> Result<ExitCode> {
    let out = &mut std::io::stdout().lock();
    let w = |e: std::io::Error| Error::io("stdout", e);
    match command {
        Command::Convert { src, dst, force } => {
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
        Command::Verify { src } => {
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
        Command::Info { src } => {
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
        Command::Push { s3, dir, store } => {
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
        Command::Show { src } => {
            let summary = with_source(&src, |s| {
                let model = SpaceModel::load(s)?;
                let summary = model.summary();
                // The process ends next: its trees are not freed one by one.
                std::mem::forget(model);
                Ok(summary)
            })?;
            if json {
                writeln!(out, "{}", json!(summary)).map_err(w)?;
            } else {
                print_show(out, &summary).map_err(w)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Chat { src, chat } => {
            let model = with_source(&src, SpaceModel::load)?;
            let (found, messages) = model
                .chat_with_messages(&chat)
                .ok_or_else(|| Error::NotFound(format!("chat {chat:?}")))?;
            if json {
                writeln!(out, "{}", json!({"chat": found, "messages": messages})).map_err(w)?;
            } else {
                print_chat(out, &model, &found, &messages).map_err(w)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Tree { src, tree } => {
            let id = TreeId::new(&tree)?;
            let t = with_source(&src, |s| sila_store_core::model::load_tree(s, &id))?;
            if t.vertex_count() == 0 {
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
        Command::Secrets { src, show_values } => {
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

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io("tokio runtime", e))
}
