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

/** The workspace a person picked: one archive file (read in place, by slices), or the
 * files of a folder (the folder holding `space-v1/`, found wherever it sits in the
 * picked tree), each read when it is written. */
function readPicked({ file, files }) {
  if (file) return { file };
  const paths = files.map((f) => f.relativePath ?? f.webkitRelativePath ?? f.name);
  const marker = paths.find((p) => /(^|\/)space-v1\/space\.json$/.test(p)) ?? paths.find((p) => /(^|\/)space-v1\//.test(p));
  if (!marker) throw fail('NotAWorkspace', 'the folder holds no space-v1 folder: it is not a Sila workspace');
  const root = marker.slice(0, marker.indexOf('space-v1/'));
  const out = [];
  for (let i = 0; i < files.length; i++) {
    if (!paths[i].startsWith(root)) continue;
    const rel = paths[i].slice(root.length);
    if (rel === '.DS_Store' || rel.endsWith('/.DS_Store')) continue;
    out.push({ path: rel, blob: files[i].file ?? files[i] });
  }
  return { files: out };
}

// The view of a workspace: `<folder>.sqlite` at the OPFS root, a SQLite archive of the
// folder built at import (`exportTo`, a file at a time, every file checked and read
// back). What the page shows (info, verify, chats, export) is read from it in place
// through a sync access handle, a page at a time, so a workspace of any size opens
// without being held in memory. Ops and blobs are read from the folder by the engine.
const viewName = (dir) => `${dir}.sqlite`;
const views = new Map();
const opfsRoot = () => navigator.storage.getDirectory();

function closeView(dir) {
  views.get(dir)?.close();
  views.delete(dir);
}

async function removeView(dir) {
  closeView(dir);
  await (await opfsRoot()).removeEntry(viewName(dir)).catch(() => {});
}

/** Builds the view of `dir` from its folder (or copies the folder's archive, if it is
 * archived in place). */
async function buildView(dir, progress) {
  await removeView(dir);
  const fh = await (await opfsRoot()).getFileHandle(viewName(dir), { create: true });
  const view = await fh.createSyncAccessHandle();
  try {
    const store = await sila.OpfsStore.open(dir, { create: false });
    const ws = sila.openWorkspace(store);
    if ((await ws.getWorkspaceFormat()) === 'sqlite') {
      const [d, name] = [store.dir, sila.ARCHIVE_PATH];
      const reader = (await (await d.getFileHandle(name)).getFile()).stream().getReader();
      for (let at = 0; ;) {
        const { done, value } = await reader.read();
        if (done) break;
        at += view.write(value, { at });
      }
      view.flush();
    } else {
      await ws.exportTo(view, 'sqlite', { onProgress: progress });
    }
  } catch (e) {
    view.close();
    await removeView(dir);
    throw e;
  }
  views.set(dir, view);
  return view;
}

/** The open view of `dir`, built if it is missing. */
async function viewOf(dir) {
  if (views.has(dir)) return views.get(dir);
  let fh;
  try {
    fh = await (await opfsRoot()).getFileHandle(viewName(dir));
  } catch (e) {
    if (e?.name !== 'NotFoundError') throw e;
    return buildView(dir);
  }
  const view = await fh.createSyncAccessHandle();
  views.set(dir, view);
  return view;
}

/** Imports a workspace into OPFS: into a fresh folder, then its view is built (which
 * checks every file and reads it back); only then does the index name the folder, and
 * the folder it replaces goes after. A failure removes the fresh folder. */
async function importWorkspace(source, progress) {
  const t0 = performance.now();
  const dir = PREFIX + crypto.randomUUID();
  const store = await sila.OpfsStore.open(dir);
  let info;
  try {
    if (source.file) {
      await sila.openWorkspace(store).importFrom(sila.blobFile(source.file), { onProgress: progress });
    } else {
      const total = source.files.length;
      let done = 0;
      for (const f of source.files) {
        await store.write(f.path, f.bytes ?? (await bytesOf(f.blob)));
        progress({ phase: 'writing', done: ++done, total });
      }
    }
    info = sila.info(await buildView(dir, progress));
    if (!info.spaceId) throw fail('NotAWorkspace', 'the workspace has no space-v1/space.json naming its space');
  } catch (e) {
    await removeView(dir);
    await sila.OpfsStore.removeDirectory(dir).catch(() => {});
    throw e;
  }
  // Swap in: the index names the new folder; the old copy (if any) goes after.
  const index = await readIndex();
  const old = index[info.spaceId];
  index[info.spaceId] = dir;
  await writeIndex(index);
  if (old) {
    await removeView(old);
    await sila.OpfsStore.removeDirectory(old).catch(() => {});
  }
  return { dir, spaceId: info.spaceId, ms: performance.now() - t0 };
}

async function summary(dir) {
  const ws = sila.openWorkspace(await sila.OpfsStore.open(dir, { create: false }));
  return { dir, info: sila.info(await viewOf(dir)), format: await ws.getWorkspaceFormat() };
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
      const view = await viewOf(dir);
      const model = sila.show(view);
      const chats = new Map();
      return {
        model,
        chat(treeId) {
          if (!chats.has(treeId)) chats.set(treeId, sila.chat(view, treeId));
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
    for await (const [name, h] of (await opfsRoot()).entries()) {
      const dir = name.replace(/\.sqlite$/, '');
      if (h.kind === 'file' && name.startsWith(PREFIX) && name.endsWith('.sqlite') && !named.has(dir)) await removeView(dir);
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
    return importWorkspace(readPicked(args), progress);
  },

  async open({ dir }, progress) {
    const s = await summary(dir);
    const view = await viewOf(dir);
    const report = sila.verify(view, { onProgress: progress });
    // The space as Sila shows it: chats, files, reference checks.
    const model = sila.show(view);
    const store = await sila.OpfsStore.open(dir, { create: false });
    const known = new Map(model.files.filter((f) => f.hash).map((f) => [f.hash, f]));
    const statics = [];
    let sniffed = 0;
    for (const path of await store.list('space-v1/files/static/')) {
      const f = known.get(path.split('/').slice(-2).join(''));
      let type = f?.mimeType?.startsWith('image/') ? f.mimeType : null;
      // Files the tree does not describe: their first bytes tell (a few hundred at most).
      if (!f && sniffed++ < 200) type = imageType(await store.readRange(path, 0, 16));
      statics.push({ path, size: f?.size ?? null, type });
    }
    const mutables = [];
    for (const path of await store.list('space-v1/files/var/')) mutables.push({ path, size: await store.size(path) });
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

  /** The workspace as one file, converted from its view in place into an OPFS file
   * (`export.zip` or `export.sqlite`, replaced by the next export): the page gets a
   * `File`, never the bytes through wasm memory. */
  async export({ dir, to }, progress) {
    const t0 = performance.now();
    const root = await opfsRoot();
    const name = `export.${to === 'sqlite' ? 'sqlite' : 'zip'}`;
    await root.removeEntry(name).catch(() => {});
    const fh = await root.getFileHandle(name, { create: true });
    const out = await fh.createSyncAccessHandle();
    try {
      sila.convertFile(await viewOf(dir), out, to, { onProgress: progress });
    } finally {
      out.close();
    }
    return { file: await fh.getFile(), ms: performance.now() - t0 };
  },

  async archive({ dir }, progress) {
    closeView(dir);
    const ws = sila.openWorkspace(await sila.OpfsStore.open(dir, { create: false }));
    if ((await ws.getWorkspaceFormat()) === 'sqlite') await ws.convertToPlainFiles({ onProgress: progress });
    else await ws.convertToSQLite({ onProgress: progress });
    return ws.getWorkspaceFormat();
  },

  async remove({ dir }) {
    const index = await readIndex();
    for (const [id, d] of Object.entries(index)) if (d === dir) delete index[id];
    await writeIndex(index);
    await removeView(dir);
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
      return await importWorkspace({ files }, progress);
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
