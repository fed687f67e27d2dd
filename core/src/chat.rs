//! Finding a chat the way a person names it: by its tree id, by the `threads` vertex
//! that lists it, or by its title; and a chat tree that `threads` no longer lists (Sila
//! leaves such trees behind) by its id. Every host's `chat` goes through here.

use crate::model::{ChatInfo, MessageInfo, SpaceModel};

impl SpaceModel {
    /// The chat `chat` names (tree id, `threads` vertex id, or title; a tree id of a
    /// chat tree not listed in `threads` too), if any.
    pub fn find_chat(&self, chat: &str) -> Option<ChatInfo> {
        let chats = self.chats();
        chats
            .iter()
            .find(|c| c.tree_id == chat || c.thread_vertex == chat)
            .or_else(|| chats.iter().find(|c| c.title.as_deref() == Some(chat)))
            .cloned()
            .or_else(|| {
                self.trees
                    .contains_key(chat)
                    .then(|| self.unlisted_chat(chat))
            })
    }

    /// A chat and its messages along the main branch, as Sila shows them.
    pub fn chat_with_messages(&self, chat: &str) -> Option<(ChatInfo, Vec<MessageInfo>)> {
        let found = self.find_chat(chat)?;
        let messages = self.messages(&found.tree_id);
        Some((found, messages))
    }

    /// A tree of the workspace read as a chat, though `threads` does not list it.
    fn unlisted_chat(&self, tree: &str) -> ChatInfo {
        ChatInfo {
            tree_id: tree.to_string(),
            thread_vertex: String::new(),
            title: self
                .trees
                .get(tree)
                .and_then(|t| t.root())
                .and_then(|r| r.prop("name"))
                .and_then(|n| serde_json::from_str(n).ok()),
            messages: self.message_count(tree),
            main_branch: self.messages(tree).len() as u64,
            has_ops: true,
        }
    }
}
