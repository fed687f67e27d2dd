//! What little of the trees the codec needs: `space.json`'s id and a tree root's
//! properties (last writer wins by `(counter, peer)`, SILA-FORMAT.md §5.4), enough to
//! name a space and to notice a `space.json` that names an app tree. Rebuilding whole
//! trees is another module's job.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};

use crate::ops::OpLine;

/// The `id` of a `space.json` (`{"id":"<spaceId>"}`), if it has one.
pub fn space_id_from_json(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct SpaceJson {
        id: String,
    }
    serde_json::from_slice::<SpaceJson>(bytes)
        .ok()
        .map(|s| s.id)
}

/// The winning value of each property of one vertex.
#[derive(Clone, Debug, Default)]
pub struct RootProps {
    props: BTreeMap<String, (u64, String, String)>,
}

impl RootProps {
    /// Applies a property op; the higher `(counter, peer)` wins.
    pub fn apply(&mut self, key: &str, value: &str, counter: u64, peer: &str) {
        let newer = match self.props.get(key) {
            Some((c, p, _)) => (counter, peer) > (*c, p.as_str()),
            None => true,
        };
        if newer {
            self.props.insert(
                key.to_string(),
                (counter, peer.to_string(), value.to_string()),
            );
        }
    }

    /// The raw JSON text of a property, `None` if unset or deleted (`{}`/`[]`).
    pub fn raw(&self, key: &str) -> Option<&str> {
        self.props
            .get(key)
            .map(|(_, _, v)| v.as_str())
            .filter(|v| !OpLine::is_deletion_value(v))
    }

    /// A property as text: a JSON string's content, other JSON as written.
    pub fn string(&self, key: &str) -> Option<String> {
        let raw = self.raw(key)?;
        match serde_json::from_str::<String>(raw) {
            Ok(s) => Some(s),
            Err(_) => Some(raw.to_string()),
        }
    }

    /// Whether the property is set (and not deleted).
    pub fn has(&self, key: &str) -> bool {
        self.raw(key).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_writer_wins() {
        let mut p = RootProps::default();
        p.apply("name", "\"b\"", 5, "pb");
        p.apply("name", "\"a\"", 5, "pa");
        assert_eq!(p.string("name").as_deref(), Some("b"));
        p.apply("name", "{}", 6, "pa");
        assert_eq!(p.string("name"), None);
        assert_eq!(
            space_id_from_json(br#"{"id":"13e6"}"#).as_deref(),
            Some("13e6")
        );
    }
}
