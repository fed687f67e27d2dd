//! `syncWorkspace` for a store holding one workspace, and the rule every sync shares:
//! which stored ops a client lacks.

use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use super::{SpaceStorage, StateVector};
use crate::error::Result;
use crate::ids::{Day, TreeId};
use crate::model::sila_tree_op;
use crate::ops::wire::WireOp;
use crate::ops::OpsFileKind;
use crate::store::WorkspaceStore;

/// The ops of `server` a client lacks: not among `client_ops` and, if it gave one, not
/// covered by its state vector (`{peer: [[start, end], …]}`).
pub fn missing_for_client(
    server: Vec<WireOp>,
    client_ops: &[WireOp],
    state: Option<&StateVector>,
) -> Vec<WireOp> {
    let client_has: BTreeSet<(u64, &str)> = client_ops
        .iter()
        .map(|o| (o.id.counter, o.id.peer_id.as_str()))
        .collect();
    let covered = |o: &WireOp| {
        client_has.contains(&(o.id.counter, o.id.peer_id.as_str()))
            || state.is_some_and(|sv| {
                sv.get(&o.id.peer_id)
                    .is_some_and(|r| r.iter().any(|[a, b]| (*a..=*b).contains(&o.id.counter)))
            })
    };
    server.into_iter().filter(|o| !covered(o)).collect()
}

impl<S: WorkspaceStore> SpaceStorage<S> {
    /// The seed's `syncWorkspace` for one tree: stores the client's ops the workspace
    /// lacks (placed and deduplicated as [`SpaceStorage::put_operations`] does, in the
    /// day folder `day`; transient ops never) and returns the ops the client lacks
    /// ([`missing_for_client`]). An archived workspace (with a host) is read from its
    /// archive, and unarchived only if there is something to store.
    pub async fn sync_tree(
        &self,
        tree: &TreeId,
        client_ops: &[WireOp],
        state: Option<&StateVector>,
        day: Day,
    ) -> Result<Vec<WireOp>> {
        let mut server = Vec::new();
        for o in self.get_operations(tree, None, None).await? {
            let kind = OpsFileKind::parse(&o.file_kind).unwrap_or(OpsFileKind::Legacy);
            if let Some(op) = sila_tree_op(&o.line, kind, &o.peer) {
                server.push(WireOp::from_tree_op(&op)?);
            }
        }
        let known: BTreeSet<(u64, &str)> = server
            .iter()
            .map(|o| (o.id.counter, o.id.peer_id.as_str()))
            .collect();
        let fresh = client_ops
            .iter()
            .filter(|o| !o.transient && !known.contains(&(o.id.counter, o.id.peer_id.as_str())))
            .map(WireOp::to_tree_op)
            .collect::<Result<Vec<_>>>()?;
        if !fresh.is_empty() {
            self.put_operations(tree, &fresh, day).await?;
        }
        Ok(missing_for_client(server, client_ops, state))
    }
}
