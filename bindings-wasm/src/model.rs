//! Seeing inside a workspace from JavaScript: the same model the CLI (`show`, `chat`,
//! `tree`) and UniFFI expose, trees rebuilt exactly as RepTree does.

use sila_store_core::ids::TreeId;
use sila_store_core::model::{load_tree, vertex_list, SpaceModel};
use sila_store_core::Error;
use wasm_bindgen::prelude::*;

use crate::{js_err, to_js, Input, JsResult};

/// The space as Sila shows it: `{spaceId, name, chats, messages, files, warnings,
/// errors}` (chats with message counts, files with presence, reference checks).
#[wasm_bindgen]
pub fn show(workspace: &JsValue) -> JsResult<JsValue> {
    let mut input = Input::from_js(workspace).map_err(js_err)?;
    let model = input.with(SpaceModel::load).map_err(js_err)?;
    to_js(&model.summary())
}

/// A chat (its tree id, `threads` vertex id or title) and its messages along the main
/// branch, as Sila shows them: `{chat, messages}`, as `sila-store chat --json` prints.
#[wasm_bindgen]
pub fn chat(workspace: &JsValue, chat: &str) -> JsResult<JsValue> {
    let mut input = Input::from_js(workspace).map_err(js_err)?;
    let model = input.with(SpaceModel::load).map_err(js_err)?;
    let (found, messages) = model
        .chat_with_messages(chat)
        .ok_or_else(|| js_err(Error::NotFound(format!("chat {chat:?}"))))?;
    #[derive(serde::Serialize)]
    struct Chat<'a> {
        chat: &'a sila_store_core::model::ChatInfo,
        messages: &'a [sila_store_core::model::MessageInfo],
    }
    to_js(&Chat {
        chat: &found,
        messages: &messages,
    })
}

/// Every vertex of a tree, rebuilt as RepTree does, in creation order: `{id, parent,
/// props: [{key, value}], children}` (`value` the raw JSON text).
#[wasm_bindgen]
pub fn tree(workspace: &JsValue, tree_id: &str) -> JsResult<JsValue> {
    let id = TreeId::new(tree_id).map_err(js_err)?;
    let mut input = Input::from_js(workspace).map_err(js_err)?;
    let t = input.with(|s| load_tree(s, &id)).map_err(js_err)?;
    if t.vertex_count() == 0 {
        return Err(js_err(Error::NotFound(format!(
            "tree {tree_id} has no ops"
        ))));
    }
    to_js(&vertex_list(&t))
}
