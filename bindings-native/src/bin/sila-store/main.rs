//! `sila-store`: convert, verify and inspect Sila workspaces in any format.

mod args;
mod commands;
mod print;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use serde_json::json;
use sila_store_core::Error;

use args::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    match commands::run(cli.command, json) {
        Ok(code) => code,
        Err(e) if stdout_closed(&e) => ExitCode::from(CLOSED_STDOUT),
        Err(e) => {
            let printed = if json {
                let line = json!({"error": {"code": e.code(), "message": e.to_string()}});
                let mut out = std::io::stdout().lock();
                writeln!(out, "{line}").and_then(|()| out.flush())
            } else {
                writeln!(std::io::stderr(), "error [{}]: {e}", e.code())
            };
            match printed {
                Err(p) if p.kind() == std::io::ErrorKind::BrokenPipe => {
                    ExitCode::from(CLOSED_STDOUT)
                }
                _ => ExitCode::FAILURE,
            }
        }
    }
}

/// Exit status when the reader of stdout went away (`sila-store show | head -1`):
/// what a shell reports for a Unix tool ended by SIGPIPE (128 + 13). Nothing is
/// printed: the pipe's reader chose to stop reading.
const CLOSED_STDOUT: u8 = 141;

/// Whether `e` is a write to a closed stdout.
fn stdout_closed(e: &Error) -> bool {
    matches!(e, Error::Io { path, source } if path == "stdout" && source.kind() == std::io::ErrorKind::BrokenPipe)
}
