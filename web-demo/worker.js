// Everything that touches a workspace runs here, off the main thread: reading what the
// person picked, converting (the codec is synchronous wasm), OPFS and IndexedDB.
// Protocol: {id, type, ...args} in; {id, progress} while working; {id, ok, result | error}.
import * as sila from './pkg/sila-store/web.js';

// OPFS layout: one folder per workspace (`ws-<random>`) and `workspaces.json`, the index
// {spaceId: folder}. A folder is a workspace only once the index names it, and the index
// is replaced in one atomic write, so an import cut short leaves only an unnamed folder
// (removed at the next start) and never touches the workspace it replaces.
const PREFIX = 'ws-';
const INDEX = 'workspaces.json';

async function readIndex() {
  const root = await navigator.storage.getDirectory();
  try {
    const f = await (await root.getFileHandle(INDEX)).getFile();
    return JSON.parse(await f.text());
  } catch (e) {
    if (e?.name === 'NotFoundError') return {};
    throw e;
  }
}
async function writeIndex(index) {
  const root = await navigator.storage.getDirectory();
  const w = await (await root.getFileHandle(INDEX, { create: true })).createWritable();
  await w.write(JSON.stringify(index));
  await w.close();
}

function fail(code, message) {
  return new sila.SilaStoreError(code, message);
}

/** Bytes of a File (or Blob). */
const bytesOf = async (blob) => new Uint8Array(await blob.arrayBuffer());

/** The workspace a person picked: one archive file, or the files of a folder (the
 * folder holding `space-v1/`, found wherever it sits in the picked tree). */
async function readPicked({ file, files }) {
  if (file) {
    const bytes = await bytesOf(file);
    const format = sila.detectFormat(bytes);
    if (format === 'unknown') {
      throw fail('NotAWorkspace', `${file.name} is neither a ZIP nor a SQLite archive of a workspace`);
    }
    return bytes;
  }
  const paths = files.map((f) => f.relativePath ?? f.webkitRelativePath ?? f.name);
  const marker = paths.find((p) => /(^|\/)space-v1\/space\.json$/.test(p)) ?? paths.find((p) => /(^|\/)space-v1\//.test(p));
  if (!marker) throw fail('NotAWorkspace', 'the folder holds no space-v1 folder: it is not a Sila workspace');
  const root = marker.slice(0, marker.indexOf('space-v1/'));
  const out = [];
  for (let i = 0; i < files.length; i++) {
    if (!paths[i].startsWith(root)) continue;
    const rel = paths[i].slice(root.length);
    if (rel === '.DS_Store' || rel.endsWith('/.DS_Store')) continue;
    out.push({ path: rel, bytes: await bytesOf(files[i].file ?? files[i]) });
  }
  return out;
}

/** Imports a workspace into OPFS. Everything is converted and verified in memory first;
 * only then is OPFS written, into a fresh folder that replaces the old one at the end. */
async function importWorkspace(workspace, progress) {
  const t0 = performance.now();
  const plain = sila.convert(workspace, 'plain', { onProgress: progress });
  const info = sila.info(plain);
  if (!info.spaceId) throw fail('NotAWorkspace', 'the workspace has no space-v1/space.json naming its space');
  const dir = PREFIX + crypto.randomUUID();
  const store = await sila.OpfsStore.open(dir);
  try {
    await sila.writeFiles(store, plain, { onProgress: progress });
    const back = await sila.readFiles(store);
    sila.convert(back, 'plain'); // every hash again, as stored
  } catch (e) {
    await sila.OpfsStore.removeDirectory(dir).catch(() => {});
    throw e;
  }
  // Swap in: the index names the new folder; the old copy (if any) goes after.
  const index = await readIndex();
  const old = index[info.spaceId];
  index[info.spaceId] = dir;
  await writeIndex(index);
  if (old) await sila.OpfsStore.removeDirectory(old).catch(() => {});
  return { dir, spaceId: info.spaceId, ms: performance.now() - t0 };
}

async function summary(dir) {
  const store = await sila.OpfsStore.open(dir, { create: false });
  const ws = sila.openWorkspace(store);
  const snap = await ws.snapshot();
  const info = sila.info(snap);
  return { dir, info, format: await ws.getWorkspaceFormat() };
}

const imageType = (b) =>
  b[0] === 0x89 && b[1] === 0x50 ? 'image/png'
  : b[0] === 0xff && b[1] === 0xd8 ? 'image/jpeg'
  : b[0] === 0x47 && b[1] === 0x49 ? 'image/gif'
  : b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 && b[11] === 0x50 ? 'image/webp'
  : b[0] === 0x3c && /^<svg|^<\?xml/.test(new TextDecoder().decode(b.slice(0, 5))) ? 'image/svg+xml'
  : null;

// The chats of the workspace last read: its snapshot and model read once, each chat
// rebuilt once, so a search or a click on a chat does not rebuild every tree again.
// Opening a workspace, and any call that changes one (import, archive, remove), drops it.
// The read itself (a promise) is what is kept, at once: a read still running when the
// cache is dropped never puts back what it read.
let chatCache = null;
function dropChats() {
  chatCache = null;
}
function chatsOf(dir) {
  if (chatCache?.dir !== dir) {
    const entry = { dir, loading: null };
    entry.loading = (async () => {
      const snap = await sila.openWorkspace(await sila.OpfsStore.open(dir, { create: false })).snapshot();
      const model = sila.show(snap);
      const chats = new Map();
      return {
        model,
        chat(treeId) {
          if (!chats.has(treeId)) chats.set(treeId, sila.chat(snap, treeId));
          return chats.get(treeId);
        },
      };
    })();
    // A failed read is not kept either.
    entry.loading.catch(() => {
      if (chatCache === entry) chatCache = null;
    });
    chatCache = entry;
    return entry.loading;
  }
  return chatCache.loading;
}
const KEEPS_CHATS = new Set(['list', 'chat', 'search', 'ops', 'file', 'blob', 'export', 'idbSpaces']);

const handlers = {
  async list() {
    const index = await readIndex();
    const named = new Set(Object.values(index));
    for (const dir of await sila.OpfsStore.listDirectories()) {
      // A folder no index entry names is an import cut short: remove it.
      if (dir.startsWith(PREFIX) && !named.has(dir)) await sila.OpfsStore.removeDirectory(dir).catch(() => {});
    }
    const out = [];
    for (const dir of Object.values(index)) {
      try {
        out.push(await summary(dir));
      } catch (e) {
        out.push({ dir, error: { code: e.code ?? 'Error', message: e.message } });
      }
    }
    return out;
  },

  async import(args, progress) {
    return importWorkspace(await readPicked(args), progress);
  },

  async open({ dir }, progress) {
    const s = await summary(dir);
    const store = await sila.OpfsStore.open(dir, { create: false });
    const snap = await sila.openWorkspace(store).snapshot();
    const report = sila.verify(snap, { onProgress: progress });
    const files = sila.convert(snap, 'plain');
    const statics = files
      .filter((f) => f.path.startsWith('space-v1/files/static/'))
      .map((f) => ({ path: f.path, size: f.bytes.length, type: imageType(f.bytes) }));
    const mutables = files.filter((f) => f.path.startsWith('space-v1/files/var/')).map((f) => ({ path: f.path, size: f.bytes.length }));
    // The space as Sila shows it: chats, files, reference checks.
    const model = sila.show(snap);
    return { ...s, report, statics, mutables, model };
  },

  /** A chat with its messages along the main branch, as Sila shows them. */
  async chat({ dir, treeId }) {
    return (await chatsOf(dir)).chat(treeId);
  },

  /** Messages whose text holds `query` (case-insensitive), in every chat. */
  async search({ dir, query }) {
    const q = query.toLocaleLowerCase();
    const hits = [];
    if (!q) return hits;
    const chats = await chatsOf(dir);
    for (const c of chats.model.chats) {
      if (!c.hasOps) continue;
      for (const m of chats.chat(c.treeId).messages) {
        const at = m.text?.toLocaleLowerCase().indexOf(q) ?? -1;
        if (at < 0) continue;
        hits.push({ treeId: c.treeId, title: c.title, messageId: m.id, role: m.role, snippet: m.text.slice(Math.max(0, at - 40), at + q.length + 60) });
        if (hits.length >= 50) return hits;
      }
    }
    return hits;
  },

  async ops({ dir, treeId, day }) {
    const ws = sila.openWorkspace(await sila.OpfsStore.open(dir, { create: false }));
    return ws.getOperations(treeId, day ? { from: day, to: day } : {});
  },

  async file({ dir, path }) {
    const ws = sila.openWorkspace(await sila.OpfsStore.open(dir, { create: false }));
    const hash = path.split('/').slice(-2).join('');
    const bytes = await ws.getFile(hash);
    return { bytes, type: imageType(bytes) };
  },

  /** A CAS blob by its SHA-256 (checked by the engine). */
  async blob({ dir, hash }) {
    const bytes = await sila.openWorkspace(await sila.OpfsStore.open(dir, { create: false })).getFile(hash);
    return { bytes, type: imageType(bytes) };
  },

  async export({ dir, to }, progress) {
    const t0 = performance.now();
    const ws = sila.openWorkspace(await sila.OpfsStore.open(dir, { create: false }));
    const bytes = sila.convert(await ws.snapshot(), to, { onProgress: progress });
    return { bytes, ms: performance.now() - t0 };
  },

  async archive({ dir }, progress) {
    const ws = sila.openWorkspace(await sila.OpfsStore.open(dir, { create: false }));
    if ((await ws.getWorkspaceFormat()) === 'sqlite') await ws.convertToPlainFiles({ onProgress: progress });
    else await ws.convertToSQLite({ onProgress: progress });
    return ws.getWorkspaceFormat();
  },

  async remove({ dir }) {
    const index = await readIndex();
    for (const [id, d] of Object.entries(index)) if (d === dir) delete index[id];
    await writeIndex(index);
    await sila.OpfsStore.removeDirectory(dir).catch(() => {});
  },

  /** The spaces in Sila's own IndexedDB database of this origin. */
  async idbSpaces({ dbName = 'sila' }) {
    const db = await sila.openSilaDb(dbName);
    try {
      const tx = db.transaction(['spaces', 'spaceRefs']);
      const get = (s) => new Promise((res, rej) => { const r = tx.objectStore(s).getAll(); r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
      const [spaces, refs] = [await get('spaces'), await get('spaceRefs')];
      return refs.map((r) => ({ ...r, name: spaces.find((s) => s.uri === r.spaceUri)?.name ?? null }));
    } finally {
      db.close();
    }
  },

  async importIdb({ dbName = 'sila', spaceId, uri }, progress) {
    const db = await sila.openSilaDb(dbName);
    try {
      const store = new sila.IndexedDbStore(db, { spaceId, uri, files: new sila.MemoryStore() });
      const files = await sila.readFiles(store);
      if (files.length <= 2) throw fail('NotFound', `space ${spaceId} has no ops in IndexedDB`);
      return await importWorkspace(files, progress);
    } finally {
      db.close();
    }
  },
};

onmessage = async (e) => {
  const { id, type, ...args } = e.data;
  let last = 0;
  const progress = (p) => {
    const now = performance.now();
    if (now - last < 50 && p.done !== p.total) return;
    last = now;
    postMessage({ id, progress: p });
  };
  try {
    if (!KEEPS_CHATS.has(type)) dropChats();
    const result = await handlers[type](args, progress);
    const transfer = result?.bytes instanceof Uint8Array ? [result.bytes.buffer] : [];
    postMessage({ id, ok: true, result }, transfer);
  } catch (err) {
    postMessage({ id, ok: false, error: { code: err?.code ?? 'Error', message: String(err?.message ?? err) } });
  }
};
postMessage({ ready: true, version: sila.version() });
