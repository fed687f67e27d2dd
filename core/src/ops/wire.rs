//! Ops as Sila's sync protocol carries them (SILA-FORMAT.md §7), the one wire type of
//! every host:
//!
//! ```text
//! move      {"id":{"counter":42,"peerId":"…"},"targetId":"…","parentId":null|"…"}
//! property  {"id":{…},"targetId":"…","key":"k","value":<any JSON>,"transient":false}
//! ```
//!
//! A property without `value` is a deletion; `"value":null` is the value `null`, not a
//! deletion. The value is kept as the JSON text it came in and turned into the text
//! `JSON.stringify` would write for it ([`crate::json::js_normalize`]) only when it
//! becomes a [`TreeOp`], so no value ever passes through a re-serialising JSON model
//! (which would sort keys, round doubles or refuse lone surrogates).

use alloc::boxed::Box;
use alloc::string::{String, ToString};

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

use crate::error::{Error, Result};
use crate::json::js_normalize;
use crate::reptree::{OpId, OpKind, TreeOp};

/// An op in Sila's wire form.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireOp {
    /// Counter and peer.
    pub id: WireOpId,
    /// The vertex.
    pub target_id: String,
    /// For a move: the new parent (`null` = root). Absent for a property.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub parent_id: Option<Option<String>>,
    /// For a property: its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// For a property: its value as JSON text (absent = deleted; `null` is a value).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub value: Option<Box<RawValue>>,
    /// Transient ops are never stored.
    #[serde(default)]
    pub transient: bool,
}

impl PartialEq for WireOp {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
            && self.target_id == other.target_id
            && self.parent_id == other.parent_id
            && self.key == other.key
            && self.value.as_deref().map(RawValue::get) == other.value.as_deref().map(RawValue::get)
            && self.transient == other.transient
    }
}

/// `{counter, peerId}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireOpId {
    /// Lamport counter.
    pub counter: u64,
    /// Peer.
    pub peer_id: String,
}

/// A field that is present (even as `null`) is `Some`; `default` makes an absent one
/// `None`.
fn present<'de, D: Deserializer<'de>>(
    d: D,
) -> core::result::Result<Option<Box<RawValue>>, D::Error> {
    Box::<RawValue>::deserialize(d).map(Some)
}

mod double_option {
    use alloc::string::String;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Option<String>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Ok(Some(Option::<String>::deserialize(d)?))
    }
}

impl WireOp {
    /// A property op whose value is the JSON text `value_json` (`None`: a deletion).
    pub fn set(
        counter: u64,
        peer: &str,
        target: &str,
        key: &str,
        value_json: Option<&str>,
    ) -> Result<Self> {
        let value = value_json
            .map(|v| {
                RawValue::from_string(v.to_string())
                    .map_err(|e| Error::InvalidArgument(alloc::format!("value is not JSON: {e}")))
            })
            .transpose()?;
        Ok(WireOp {
            id: WireOpId {
                counter,
                peer_id: peer.to_string(),
            },
            target_id: target.to_string(),
            parent_id: None,
            key: Some(key.to_string()),
            value,
            transient: false,
        })
    }

    /// A move op.
    pub fn mv(counter: u64, peer: &str, target: &str, parent: Option<&str>) -> Self {
        WireOp {
            id: WireOpId {
                counter,
                peer_id: peer.to_string(),
            },
            target_id: target.to_string(),
            parent_id: Some(parent.map(str::to_string)),
            key: None,
            value: None,
            transient: false,
        }
    }

    /// The op as RepTree takes it, its value in the text `JSON.stringify` writes
    /// (an absent value is a deletion).
    pub fn to_tree_op(&self) -> Result<TreeOp> {
        let kind = match (&self.parent_id, &self.key) {
            (Some(parent), _) => OpKind::Move {
                parent: parent.clone(),
            },
            (None, Some(key)) => OpKind::Set {
                key: key.clone(),
                value: self
                    .value
                    .as_deref()
                    .map(|v| js_normalize(v.get()))
                    .transpose()?,
            },
            (None, None) => {
                return Err(Error::InvalidArgument(
                    "an op needs parentId or key".to_string(),
                ))
            }
        };
        Ok(TreeOp {
            id: OpId {
                counter: self.id.counter,
                peer: self.id.peer_id.clone(),
            },
            target: self.target_id.clone(),
            kind,
        })
    }

    /// The wire form of a stored op (its value's text as stored).
    pub fn from_tree_op(op: &TreeOp) -> Result<Self> {
        let id = WireOpId {
            counter: op.id.counter,
            peer_id: op.id.peer.clone(),
        };
        Ok(match &op.kind {
            OpKind::Move { parent } => WireOp {
                id,
                target_id: op.target.clone(),
                parent_id: Some(parent.clone()),
                key: None,
                value: None,
                transient: false,
            },
            OpKind::Set { key, value } => WireOp {
                id,
                target_id: op.target.clone(),
                parent_id: None,
                key: Some(key.clone()),
                value: value
                    .as_ref()
                    .map(|v| {
                        RawValue::from_string(v.clone()).map_err(|e| {
                            Error::InvalidArgument(alloc::format!("stored value is not JSON: {e}"))
                        })
                    })
                    .transpose()?,
                transient: false,
            },
        })
    }
}

/// The ops to store of a batch, as RepTree takes them: transient ops are never
/// stored (SILA-FORMAT.md §2.1); a batch with an op that is not valid is refused.
pub fn ops_to_store(ops: &[WireOp]) -> Result<alloc::vec::Vec<TreeOp>> {
    ops.iter()
        .filter(|o| !o.transient)
        .map(WireOp::to_tree_op)
        .collect()
}

/// Serialises ops as a JSON array (values written as their text).
pub fn to_json(ops: &[WireOp]) -> Result<String> {
    serde_json::to_string(ops).map_err(|e| Error::InvalidArgument(e.to_string()))
}

/// Parses a JSON array of wire ops.
pub fn from_json(text: &str) -> Result<alloc::vec::Vec<WireOp>> {
    serde_json::from_str(text)
        .map_err(|e| Error::InvalidArgument(alloc::format!("not a JSON array of ops: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::line_of;

    #[test]
    fn null_is_a_value_and_an_absent_value_a_deletion() {
        let ops = from_json(
            r#"[{"id":{"counter":2,"peerId":"p"},"targetId":"t","key":"k","value":null},
                {"id":{"counter":3,"peerId":"p"},"targetId":"t","key":"k"},
                {"id":{"counter":4,"peerId":"p"},"targetId":"t","key":"k","value":{"b":1e-6,"1":"\ud800"}},
                {"id":{"counter":5,"peerId":"p"},"targetId":"t","parentId":null}]"#,
        )
        .unwrap();
        let lines: alloc::vec::Vec<String> = ops
            .iter()
            .map(|o| line_of(&o.to_tree_op().unwrap()).unwrap().0)
            .collect();
        assert_eq!(
            lines,
            [
                r#"[2,"t","k",null]"#,
                r#"[3,"t","k",{}]"#,
                r#"[4,"t","k",{"1":"\ud800","b":0.000001}]"#,
                r#"[5,"t",null]"#,
            ]
        );
        let back = WireOp::from_tree_op(&ops[2].to_tree_op().unwrap()).unwrap();
        assert_eq!(
            to_json(&[back]).unwrap(),
            r#"[{"id":{"counter":4,"peerId":"p"},"targetId":"t","key":"k","value":{"1":"\ud800","b":0.000001},"transient":false}]"#
        );
    }
}
