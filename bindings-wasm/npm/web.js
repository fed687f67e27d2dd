// The browser entry of `sila-store`: loads the wasm next to this file, then exports
// the API (see lib.js). Works in windows and in workers.
import init from './wasm/sila_store_wasm.js';

await init({ module_or_path: new URL('./wasm/sila_store_wasm_bg.wasm', import.meta.url) });

export * from './lib.js';

/** Node's file-system store is not available in the browser. */
export class NodeFsStore {
  constructor() {
    throw new Error('NodeFsStore works in Node only; in the browser use OpfsStore or IndexedDbStore');
  }
}

/** Node's files are not available in the browser. */
export class NodeFile {
  constructor() {
    throw new Error('NodeFile works in Node only; in the browser use an OPFS FileSystemSyncAccessHandle (in a worker) or blobFile(blob)');
  }
}

/** Node's files are not available in the browser. */
export function createFile() {
  throw new Error('createFile works in Node only; in the browser use an OPFS FileSystemSyncAccessHandle (in a worker)');
}
