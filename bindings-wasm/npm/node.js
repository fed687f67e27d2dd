// The Node entry of `sila-store`: instantiates the wasm synchronously from the
// package's file, then exports the API (see lib.js) and NodeFsStore.
import { readFileSync } from 'node:fs';
import { initSync } from './wasm/sila_store_wasm.js';

initSync({ module: readFileSync(new URL('./wasm/sila_store_wasm_bg.wasm', import.meta.url)) });

export * from './lib.js';
export { NodeFsStore } from './node-fs-store.js';
export { NodeFile, createFile } from './node-file.js';
