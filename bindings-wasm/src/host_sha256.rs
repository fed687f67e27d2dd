//! A host's SHA-256 for the core's hashing ([`sila_store_core::sha256`]): the npm
//! package's Node entry installs `node:crypto`, which hashes with the CPU's SHA
//! extensions where wasm has only scalar code.

use std::rc::Rc;

use sila_store_core::sha256::{install_host, uninstall_host, HostSha256};
use sila_store_core::Error;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `{ start(): number, update(handle: number, bytes: Uint8Array): void,
    /// finish(handle: number): Uint8Array }`, as JavaScript gives it.
    pub type JsSha256;
    #[wasm_bindgen(method, catch)]
    fn start(this: &JsSha256) -> Result<u32, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn update(this: &JsSha256, handle: u32, bytes: &[u8]) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn finish(this: &JsSha256, handle: u32) -> Result<Vec<u8>, JsValue>;
}

/// The JavaScript object, as the core's host: a method that throws is a failure.
struct Host(JsSha256);

impl HostSha256 for Host {
    fn start(&self) -> Option<u32> {
        self.0.start().ok()
    }
    fn update(&self, handle: u32, data: &[u8]) -> bool {
        self.0.update(handle, data).is_ok()
    }
    fn finish(&self, handle: u32) -> Option<[u8; 32]> {
        self.0.finish(handle).ok()?.try_into().ok()
    }
}

/// Hashes inputs of 4 KiB and more with `host` (`{start, update, finish}`; `null`
/// goes back to the built-in SHA-256). The host is checked against the built-in one
/// first: an `Error` with code `InvalidArgument` if it differs, and nothing installed.
#[wasm_bindgen(js_name = useHostSha256)]
pub fn use_host_sha256(host: Option<JsSha256>) -> Result<(), JsValue> {
    let Some(host) = host else {
        uninstall_host();
        return Ok(());
    };
    install_host(Rc::new(Host(host)))
        .map_err(|reason| crate::js_err(Error::InvalidArgument(reason)))
}
