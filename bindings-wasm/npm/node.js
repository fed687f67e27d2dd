// The Node entry of `sila-store`: instantiates the wasm synchronously from the
// package's file, then exports the API (see lib.js) and NodeFsStore.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { initSync, useHostSha256 } from './wasm/sila_store_wasm.js';

initSync({ module: readFileSync(new URL('./wasm/sila_store_wasm_bg.wasm', import.meta.url)) });

// SHA-256 of inputs from 4 KiB up through node:crypto: OpenSSL uses the CPU's SHA
// extensions, where the wasm has only scalar code (a third of a conversion's time).
// The core checks this against its own SHA-256 before using it.
const hashes = new Map();
let nextHash = 0;
useHostSha256({
  start() {
    nextHash = (nextHash + 1) >>> 0;
    hashes.set(nextHash, createHash('sha256'));
    return nextHash;
  },
  update(handle, bytes) {
    hashes.get(handle).update(bytes);
  },
  finish(handle) {
    const hash = hashes.get(handle);
    hashes.delete(handle);
    return hash.digest();
  },
});

export * from './lib.js';
export { NodeFsStore } from './node-fs-store.js';
export { NodeFile, createFile } from './node-file.js';
