//! The command line: subcommands and flags.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use sila_store_core::Result;
use sila_store_native::tiers::{S3Options, TierStore};

/// Convert, verify and inspect Sila workspaces: plain folders, SQLite archives
/// (`*.db`, `*.sqlite`) and ZIP archives (`*.zip`). Every conversion is byte for byte
/// and verified before it replaces anything.
#[derive(Parser)]
#[command(name = "sila-store", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Print results as JSON (one document, or one object per line for `ops` and
    /// `tree`), and errors as `{"error": {"code", "message"}}` on stdout. Accepted
    /// before or after the subcommand.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum Command {
    /// Convert SRC to DST; the format comes from the path (folder, *.db/*.sqlite, *.zip).
    Convert {
        /// Workspace to read (folder, SQLite or ZIP).
        src: PathBuf,
        /// Where to write it.
        dst: PathBuf,
        /// Replace DST if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Check everything that can be checked; exit code 0 only if all holds.
    Verify {
        /// Workspace to check.
        src: PathBuf,
    },
    /// Space id, name, trees, ops, peers, days, files, sizes.
    Info {
        /// Workspace to inspect.
        src: PathBuf,
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
    },
    /// The space as Sila shows it: name, chats with message counts, files, reference checks.
    Show {
        /// Workspace to read (any format).
        src: PathBuf,
    },
    /// A chat as Markdown (main branch), attachments listed. CHAT is a tree id, a
    /// `threads` vertex id, or a title.
    Chat {
        /// Workspace to read (any format).
        src: PathBuf,
        /// Which chat.
        chat: String,
    },
    /// A tree's vertices, rebuilt as RepTree does.
    Tree {
        /// Workspace to read (any format).
        src: PathBuf,
        /// Tree id.
        tree: String,
    },
    /// Upload a workspace folder's active files to a store (only new or changed files).
    Push {
        #[command(flatten)]
        s3: S3Flags,
        /// Workspace folder.
        dir: PathBuf,
        /// `s3://bucket/prefix` (AWS_* variables configure it), `file:///path` or `memory://`.
        store: String,
    },
    /// Download a space from a store into a folder: a new or empty one, or this space's
    /// workspace (only missing or changed files; its other files stay).
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
    },
    /// The names in the space's `secrets` file (values only with --show-values).
    Secrets {
        /// Workspace to read.
        src: PathBuf,
        /// Print the secret values too.
        #[arg(long)]
        show_values: bool,
    },
}

/// S3 settings as flags; each overrides its `AWS_*` variable.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct S3Flags {
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
    pub fn open(&self, store: &str) -> Result<TierStore> {
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
