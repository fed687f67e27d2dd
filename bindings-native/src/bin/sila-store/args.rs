//! The command line: subcommands and flags.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use sila_store_core::Result;
use sila_store_native::tiers::{S3Options, TierStore};

/// Convert, verify and look inside Sila workspaces: the plain folder Sila writes, a
/// SQLite archive (`*.db`, `*.sqlite`) or a ZIP archive (`*.zip`). Every conversion is
/// byte for byte and verified before it replaces anything; the source is only read.
#[derive(Parser)]
#[command(
    name = "sila-store",
    version,
    after_help = "Examples:
  sila-store convert ~/Sila/my-space my-space.db   archive a workspace folder
  sila-store verify my-space.db                    check every byte and reference
  sila-store show my-space.zip                     chats and files, as Sila shows them
  sila-store help convert                          more about one command

Exit codes: 0 done; 1 an error (printed as `error [Code]: …`, or as JSON with --json)
or, for verify, a workspace with errors; 2 a command line that does not parse; 141
stdout closed by its reader."
)]
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
    /// Convert SRC to DST. The format of DST comes from its name: no extension is a
    /// folder, *.db / *.sqlite / *.sqlite3 a SQLite archive, *.zip a ZIP archive.
    #[command(after_help = "Example:\n  sila-store convert ~/Sila/my-space my-space.db")]
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
    #[command(after_help = "Example:\n  sila-store verify my-space.db")]
    Verify {
        /// Workspace to check.
        src: PathBuf,
    },
    /// Space id, name, trees, ops, peers, days, files, sizes.
    #[command(after_help = "Example:\n  sila-store info my-space.zip --json")]
    Info {
        /// Workspace to inspect.
        src: PathBuf,
    },
    /// The ops of a tree stored in a day range, as the exact lines Sila wrote.
    #[command(
        after_help = "Example:\n  sila-store ops my-space.db --tree b3ee88fc46bb4ac1bd8012feac0a7d6c --from 2026-03-01 --to 2026-03-31"
    )]
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
    #[command(after_help = "Example:\n  sila-store show ~/Sila/my-space")]
    Show {
        /// Workspace to read (any format).
        src: PathBuf,
    },
    /// A chat as Markdown (main branch), attachments listed. CHAT is a tree id, a
    /// `threads` vertex id, or a title.
    #[command(after_help = "Example:\n  sila-store chat my-space.db \"Trip plans\"")]
    Chat {
        /// Workspace to read (any format).
        src: PathBuf,
        /// Which chat.
        chat: String,
    },
    /// A tree's vertices, rebuilt as RepTree does.
    #[command(
        after_help = "Example:\n  sila-store tree my-space.db b3ee88fc46bb4ac1bd8012feac0a7d6c"
    )]
    Tree {
        /// Workspace to read (any format).
        src: PathBuf,
        /// Tree id.
        tree: String,
    },
    /// Upload a workspace folder's active files to a store (only new or changed files).
    #[command(
        after_help = "Example:\n  sila-store push ~/Sila/my-space s3://bucket/spaces --s3-endpoint http://127.0.0.1:9000 --s3-allow-http --s3-path-style"
    )]
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
    #[command(
        after_help = "Example:\n  sila-store pull s3://bucket/spaces b3ee88fc46bb4ac1bd8012feac0a7d6c ./my-space"
    )]
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
    #[command(
        after_help = "Example:\n  sila-store archive b3ee88fc46bb4ac1bd8012feac0a7d6c --store s3://bucket/spaces"
    )]
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
    #[command(
        after_help = "Example:\n  sila-store unarchive b3ee88fc46bb4ac1bd8012feac0a7d6c --store s3://bucket/spaces"
    )]
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
    #[command(
        after_help = "Example:\n  sila-store sweep --store s3://bucket/spaces --inactive-days 30 --dry-run"
    )]
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
    #[command(
        after_help = "Example:\n  sila-store sync --store file:///srv/spaces b3ee88fc46bb4ac1bd8012feac0a7d6c b3ee88fc46bb4ac1bd8012feac0a7d6c < ops.json"
    )]
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
    #[command(after_help = "Example:\n  sila-store secrets ~/Sila/my-space")]
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
