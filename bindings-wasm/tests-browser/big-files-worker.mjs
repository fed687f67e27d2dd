// big-files.html's worker: every step a file at a time, wasm memory checked after each.
import * as sila from './node_modules/sila-store/web.js';

const results = [];
const MiB = 2 ** 20;
const LIMIT = 128 * MiB;
const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
async function step(name, f) {
  const t0 = performance.now();
  try {
    const detail = await f();
    const mem = sila.wasmMemoryBytes();
    const ok = mem <= LIMIT;
    results.push({
      name: `${name}${detail ? ` (${detail})` : ''}: ${(performance.now() - t0).toFixed(0)} ms, wasm memory ${(mem / MiB).toFixed(0)} MiB (<= 128)`,
      ok,
      error: ok ? undefined : `wasm memory ${(mem / MiB).toFixed(0)} MiB`,
    });
    return ok;
  } catch (e) {
    results.push({ name, ok: false, error: `${e?.code ?? ''} ${e?.stack ?? e}` });
    return false;
  }
}

const root = await navigator.storage.getDirectory();
for (const n of ['big-files', 'big.db', 'big.zip']) await root.removeEntry(n, { recursive: true }).catch(() => {});
const want = await (await fetch('./fixtures/medium.json')).json();
const store = await sila.OpfsStore.open('big-files');
const ws = sila.openWorkspace(store);
const handle = async (name) => (await root.getFileHandle(name, { create: true })).createSyncAccessHandle();
let db, zip;
if (new URL(location.href).searchParams.get('mode') === 'memory') {
  // Today's byte-array path, for the benchmark's comparison (not run in CI): the
  // workspace whole in wasm memory at each step; no memory limit checked.
  const t0 = performance.now();
  const bytes = new Uint8Array(await (await fetch('./fixtures/medium.zip')).arrayBuffer());
  await sila.writeFiles(store, bytes);
  const t1 = performance.now();
  const dbBytes = sila.convert(await sila.readFiles(store), 'sqlite');
  const t2 = performance.now();
  const zipBytes = sila.convert(dbBytes, 'zip');
  const t3 = performance.now();
  results.push({ name: `in memory: import ${(t1 - t0).toFixed(0)} ms, archive ${(t2 - t1).toFixed(0)} ms, export ${(t3 - t2).toFixed(0)} ms; total ${(t3 - t0).toFixed(0)} ms; wasm memory ${(sila.wasmMemoryBytes() / MiB).toFixed(0)} MiB; ${zipBytes.length} bytes`, ok: true });
} else {
(await step('import medium.zip (a Blob, read by slices) into an OpfsStore', async () => {
  const blob = await (await fetch('./fixtures/medium.zip')).blob();
  const r = await ws.importFrom(sila.blobFile(blob));
  if (r.files !== want.files) throw new Error(`${r.files} files, expected ${want.files}`);
  return `${r.files} files, ${(r.bytes / MiB).toFixed(0)} MiB`;
})) &&
(await step('archive the OpfsStore to a SQLite file in OPFS (exportTo)', async () => {
  db = await handle('big.db');
  await ws.exportTo(db, 'sqlite');
  return `${(db.getSize() / MiB).toFixed(0)} MiB`;
})) &&
(await step('one blob read back from the SQLite file (its pages only)', async () => {
  const path = (await store.list('space-v1/files/static/'))[0];
  const hash = path.split('/').slice(-2).join('');
  const bytes = sila.getFileFromArchive(db, hash);
  if (sila.sha256(bytes) !== hash) throw new Error('wrong bytes');
  return `${bytes.length} bytes`;
})) &&
(await step('export the SQLite file as a ZIP file in OPFS (convertFile)', async () => {
  zip = await handle('big.zip');
  sila.convertFile(db, zip, 'zip');
  db.close();
  zip.close();
  const file = await (await root.getFileHandle('big.zip')).getFile();
  const sha = hex(await crypto.subtle.digest('SHA-256', await file.arrayBuffer()));
  if (sha !== want.sha256) throw new Error(`the ZIP is not the native CLI's: ${sha} != ${want.sha256}`);
  return 'byte-identical to the native CLI\'s ZIP';
}));
}
for (const n of ['big-files', 'big.db', 'big.zip']) await root.removeEntry(n, { recursive: true }).catch(() => {});
postMessage(results);
