// sila-store for JavaScript: the same codec as the native side (compiled to wasm),
// plus the stores and the seed's WorkspaceStorage API. Shared by the browser entry
// (web.js) and the Node entry (node.js); the wasm module is initialised by them.
import {
  wasm,
  ARCHIVE_PATH,
  SPACE_JSON,
  SilaStoreError,
  call,
  bytesOf,
  progressOf,
  cancelOf,
  te,
  td,
  today,
  engineCall,
} from './internal.js';

export { ARCHIVE_PATH, SilaStoreError };
export * from './indexeddb.js';
export * from './files.js';

/** The exact text of `sila.md` that Sila writes (SILA-FORMAT.md §3.3). */
export const SILA_MD =
  "# Sila Space\n\nThis directory contains a Sila space. Please do not rename or modify the 'space-v1' folder as you won't be able to open the space from Sila. Sila needs it as is.";

/** The version of sila-store. */
export function version() {
  return wasm.version();
}

/** Bytes of the package's WebAssembly memory: it grows and never shrinks, so this is
 * the most it has held. */
export function wasmMemoryBytes() {
  return wasm.memoryBytes();
}

/** `'sqlite'`, `'zip'`, `'plain'` (an array of `{path, bytes}`) or `'unknown'`. */
export function detectFormat(workspace) {
  return wasm.detectFormat(workspace);
}

/** A ZIP archive → a SQLite archive (read back and compared file by file). */
export function zipToSqlite(zip, opts) {
  return call(wasm.convertFrom, bytesOf(zip, 'zip'), 'zip', 'sqlite', progressOf(opts));
}

/** A SQLite archive → a ZIP archive (read back and compared file by file). */
export function sqliteToZip(db, opts) {
  return call(wasm.convertFrom, bytesOf(db, 'db'), 'sqlite', 'zip', progressOf(opts));
}

/** Any workspace (archive bytes or `{path, bytes}[]`) → `'sqlite'` | `'zip'` (bytes)
 * or `'plain'` (files). The result is verified before it is returned. */
export function convert(workspace, to, opts) {
  return call(wasm.convert, workspace, to, progressOf(opts));
}

/** Checks everything; problems are in the report (`{ok, errors, warnings, info}`). */
export function verify(workspace, opts) {
  return call(wasm.verify, workspace, progressOf(opts));
}

/** Space id, trees, ops, files and sizes. */
export function info(workspace) {
  return call(wasm.info, workspace);
}

/** The ops of a tree (`{day, peer, fileKind, line}`) in day folders `from..to`. */
export function getOperations(workspace, treeId, range = {}) {
  return call(wasm.getOperations, workspace, treeId, range.from ?? undefined, range.to ?? undefined);
}

/** The space as Sila shows it: name, chats (title, message counts), files (present or
 * not) and the reference checks; every tree rebuilt exactly as RepTree does. */
export function show(workspace) {
  return call(wasm.show, workspace);
}

/** A chat (its tree id, `threads` vertex id or title) with its messages along the main
 * branch, as Sila shows them: `{chat, messages}` (what `sila-store chat --json` prints). */
export function chat(workspace, chatId) {
  return call(wasm.chat, workspace, chatId);
}

/** Every vertex of a tree, rebuilt as RepTree does, in creation order. */
export function tree(workspace, treeId) {
  return call(wasm.tree, workspace, treeId);
}

/** The SHA-256 of bytes, lowercase hex. */
export function sha256(bytes) {
  return wasm.sha256(bytesOf(bytes, 'bytes'));
}

/** An ops line exactly as Sila writes it (SILA-FORMAT.md §2.1): moves
 * `[counter,"target",parent]`, properties `[counter,"target","key",value]` with a
 * deletion (`value` undefined) written as `{}`. */
export function opToLine(op) {
  return call(wasm.opToLine, op);
}

/** The ops of one ops file, as RepTree's `VertexOperation`s (`{id: {counter, peerId},
 * targetId, parentId}` or `{…, key, value}`; a deleted property has no `value`). */
export function parseOpsFile(path, bytes) {
  return call(wasm.parseOpsFile, path, bytesOf(bytes, 'bytes')).map(wireOp);
}

function wireOp(o) {
  const op = { id: { counter: o.counter, peerId: o.peerId }, targetId: o.targetId };
  if ('parentId' in o) op.parentId = o.parentId;
  else {
    op.key = o.key;
    if (o.valueJson !== undefined) op.value = JSON.parse(o.valueJson);
    op.transient = false;
  }
  return op;
}

// ---------------------------------------------------------------------------------
// Stores: where a workspace's files live, thin I/O adapters under the core's engine
// (bindings-wasm/src/js_store.rs). A store is any object with
//   list(prefix): Promise<string[]>             the paths starting with prefix ('' = all)
//   read(path): Promise<Uint8Array | null>      null when absent
//   write(path, bytes): Promise<void>           atomic: all the bytes or none
//   remove(path): Promise<void>                 no error when absent
// and optionally
//   append(path, bytes): Promise<void>          else read + write (quadratic)
//   size(path): Promise<number | null>          else read(path).length
// ---------------------------------------------------------------------------------

/** Throws `UnsafePath` / `InvalidId` for a path that is not a safe workspace path. */
export function checkPath(path) {
  if (path === ARCHIVE_PATH) return;
  call(wasm.classifyPath, path);
}

/** A store in memory (a `Map` of path → bytes). */
export class MemoryStore {
  constructor(files) {
    this.files = new Map();
    for (const f of files ?? []) this.files.set(f.path, bytesOf(f.bytes, f.path));
  }
  async list(prefix = '') {
    return [...this.files.keys()].filter((p) => p.startsWith(prefix)).sort();
  }
  async read(path) {
    return this.files.get(path) ?? null;
  }
  async write(path, bytes) {
    checkPath(path);
    this.files.set(path, bytesOf(bytes, path).slice());
  }
  async append(path, bytes) {
    checkPath(path);
    const old = this.files.get(path) ?? new Uint8Array();
    const add = bytesOf(bytes, path);
    const next = new Uint8Array(old.length + add.length);
    next.set(old);
    next.set(add, old.length);
    this.files.set(path, next);
  }
  async size(path) {
    return this.files.get(path)?.length ?? null;
  }
  async remove(path) {
    this.files.delete(path);
  }
}

/** A store made of the host's own async functions `{list, read, write, remove}` (see
 * above); `write` must be atomic. Paths are checked before they reach `write`. */
export class CallbackStore {
  constructor(fns) {
    for (const name of ['list', 'read', 'write', 'remove']) {
      if (typeof fns?.[name] !== 'function') {
        throw new SilaStoreError('InvalidArgument', `CallbackStore needs an async function \`${name}\``);
      }
    }
    this.fns = fns;
  }
  async list(prefix = '') {
    return [...(await this.fns.list(prefix))].filter((p) => p.startsWith(prefix)).sort();
  }
  async read(path) {
    const b = await this.fns.read(path);
    return b == null ? null : bytesOf(b, path);
  }
  async write(path, bytes) {
    checkPath(path);
    await this.fns.write(path, bytesOf(bytes, path));
  }
  async remove(path) {
    await this.fns.remove(path);
  }
}
// A CallbackStore gets `append` only if the host gave one (the engine falls back to
// read + write otherwise).
Object.defineProperty(CallbackStore.prototype, 'append', {
  get() {
    const f = this.fns.append;
    return typeof f === 'function' ? (path, bytes) => (checkPath(path), f(path, bytesOf(bytes, path))) : undefined;
  },
});

/** The plain layout in a directory of the Origin Private File System (browser).
 * `OpfsStore.open('name')` opens (creating) a directory of the OPFS root. Writes go
 * through `createWritable`, which only replaces the file when it is closed. */
export class OpfsStore {
  constructor(dirHandle) {
    this.dir = dirHandle;
  }
  static async open(name, { create = true } = {}) {
    const root = await navigator.storage.getDirectory();
    return new OpfsStore(await root.getDirectoryHandle(name, { create }));
  }
  /** Names of the workspaces (directories) at the OPFS root. */
  static async listDirectories() {
    const root = await navigator.storage.getDirectory();
    const out = [];
    for await (const [name, h] of root.entries()) if (h.kind === 'directory') out.push(name);
    return out.sort();
  }
  /** Deletes a workspace directory of the OPFS root. */
  static async removeDirectory(name) {
    const root = await navigator.storage.getDirectory();
    await root.removeEntry(name, { recursive: true });
  }
  // Directory handles by path: a workspace has a few hundred folders and every call
  // would otherwise walk them from the root, one async call per level. The store never
  // removes a folder, so a handle stays valid while the store's own folder exists.
  #dirs = new Map();
  async #dirOf(path, create) {
    const parts = path.split('/');
    const name = parts.pop();
    let d = this.dir;
    let at = '';
    for (const p of parts) {
      at = at ? `${at}/${p}` : p;
      const known = this.#dirs.get(at);
      if (known) {
        d = known;
        continue;
      }
      d = await d.getDirectoryHandle(p, { create });
      this.#dirs.set(at, d);
    }
    return [d, name];
  }
  /** `f(dir, name)` for `path`. */
  async #at(path, create, f) {
    const [d, name] = await this.#dirOf(path, create);
    return f(d, name);
  }
  async list(prefix = '') {
    const out = [];
    const walk = async (d, at) => {
      for await (const [name, h] of d.entries()) {
        const path = at + name;
        if (h.kind === 'directory') {
          if (prefix.startsWith(`${path}/`) || path.startsWith(prefix)) await walk(h, `${path}/`);
        } else if (!name.endsWith('.crswap') && path.startsWith(prefix)) out.push(path);
      }
    };
    // Start at the deepest directory the prefix names.
    const dirs = prefix.split('/').slice(0, -1);
    let d = this.dir;
    try {
      for (const p of dirs) d = await d.getDirectoryHandle(p);
    } catch (e) {
      if (e?.name === 'NotFoundError' || e?.name === 'TypeMismatchError') return [];
      throw e;
    }
    await walk(d, dirs.length ? `${dirs.join('/')}/` : '');
    return out.sort();
  }
  async size(path) {
    try {
      return await this.#at(path, false, async (d, name) => (await (await d.getFileHandle(name)).getFile()).size);
    } catch (e) {
      if (e?.name === 'NotFoundError' || e?.name === 'TypeMismatchError') return null;
      throw e;
    }
  }
  async append(path, bytes) {
    checkPath(path);
    const h = await this.#at(path, true, (d, name) => d.getFileHandle(name, { create: true }));
    const size = (await h.getFile()).size;
    const w = await h.createWritable({ keepExistingData: true });
    try {
      await w.write({ type: 'write', position: size, data: bytesOf(bytes, path) });
      await w.close();
    } catch (e) {
      await w.abort().catch(() => {});
      throw e;
    }
  }
  async read(path) {
    try {
      const f = await this.#at(path, false, async (d, name) => (await d.getFileHandle(name)).getFile());
      return new Uint8Array(await f.arrayBuffer());
    } catch (e) {
      if (e?.name === 'NotFoundError' || e?.name === 'TypeMismatchError') return null;
      throw e;
    }
  }
  /** `len` bytes from `offset` (fewer at the end), read without the rest of the file. */
  async readRange(path, offset, len) {
    const f = await this.#at(path, false, async (d, name) => (await d.getFileHandle(name)).getFile());
    return new Uint8Array(await f.slice(offset, offset + len).arrayBuffer());
  }
  async write(path, bytes) {
    checkPath(path);
    const h = await this.#at(path, true, (d, name) => d.getFileHandle(name, { create: true }));
    const w = await h.createWritable({ keepExistingData: false });
    try {
      await w.write(bytesOf(bytes, path));
      await w.close();
    } catch (e) {
      await w.abort().catch(() => {});
      throw e;
    }
  }
  async remove(path) {
    try {
      await this.#at(path, false, (d, name) => d.removeEntry(name));
    } catch (e) {
      if (e?.name !== 'NotFoundError') throw e;
    }
  }
}

// ---------------------------------------------------------------------------------
// Whole workspaces in and out of stores.
// ---------------------------------------------------------------------------------

/** Every file of a store as `{path, bytes}` (the archive file excluded). */
export async function readFiles(store) {
  const out = [];
  for (const path of await store.list()) {
    if (path === ARCHIVE_PATH) continue;
    const bytes = await store.read(path);
    if (bytes) out.push({ path, bytes });
  }
  return out;
}

/** Writes a workspace (archive bytes or `{path, bytes}[]`) into a store as plain
 * files, verified first (a workspace that does not verify is refused and nothing is
 * written); `space.json` goes first. Returns the number of files written. */
export async function writeFiles(store, workspace, opts) {
  const files = Array.isArray(workspace)
    ? convert(workspace, 'plain', opts)
    : convert(bytesOf(workspace, 'workspace'), 'plain', opts);
  files.sort((a, b) => (a.path === SPACE_JSON ? -1 : b.path === SPACE_JSON ? 1 : 0));
  let done = 0;
  const total = files.length;
  for (const f of files) {
    await store.write(f.path, f.bytes);
    progressOf(opts)?.({ phase: 'writing', done: ++done, total });
  }
  return files.length;
}

/** Runs the storage engine's conformance suite on a store implementation (yours, or
 * one of these): `makeStore()` gives a fresh, empty store for each check. With
 * `{tiers: true}` also the server tiers' checks (archive, unarchive, a crash at every
 * store call followed by a rerun, two writers and an archiver, sync with state
 * vectors). Resolves to `{passed: string[], failed: {check, message}[]}`. */
export function checkStore(makeStore, { tiers = false, only } = {}) {
  return engineCall(() => wasm.checkStore(makeStore, tiers, only ?? undefined));
}

/** The seed's `WorkspaceStorage` over a store holding one workspace. */
export function openWorkspace(store) {
  return new WorkspaceStorage(store);
}

/** One workspace in a store: kept as plain files (active) or as one SQLite archive at
 * `ARCHIVE_PATH` (archived). While the archive exists it is the workspace: plain files
 * beside it are the leftovers of an interrupted (un)archive and are replaced. Every
 * call is the core's engine (`SpaceStorage` over this store): placement, dedup, blobs,
 * reads from the archive, and the crash-safe archive and unarchive. */
export class WorkspaceStorage {
  constructor(store) {
    this.store = store;
    this.engine = new wasm.SpaceEngine(store);
  }

  /** `'sqlite'` (archived), `'plain'` or `'empty'`. */
  async getWorkspaceFormat() {
    return engineCall(() => this.engine.format());
  }

  async #archive() {
    return this.store.read(ARCHIVE_PATH);
  }

  /** The workspace as the codec takes it: archive bytes or plain files. */
  async snapshot() {
    return (await this.#archive()) ?? (await readFiles(this.store));
  }

  /** The ops of a tree in day folders `from..to` (`YYYY-MM-DD`), as stored lines
   * (from the archive when archived). */
  async getOperations(treeId, range = {}) {
    return engineCall(() => this.engine.getOperations(treeId, range.from ?? undefined, range.to ?? undefined));
  }

  /** Stores an op (a RepTree `VertexOperation`) as Sila does: the line
   * `JSON.stringify` gives, appended to today's UTC day file of its peer; an op
   * already stored (same counter and peer, on any day) is skipped, and a transient op
   * is never stored. Unarchives first if needed. */
  async putOperation(treeId, op) {
    await this.putOperations(treeId, [op]);
  }

  /** Stores many ops (one append per file). Returns how many were new. Unarchives
   * first if needed. */
  async putOperations(treeId, ops, { day = today() } = {}) {
    const written = await engineCall(() => this.engine.putOperations(treeId, JSON.stringify(ops), day));
    return written.length;
  }

  /** Stores a CAS file and returns its SHA-256. Unarchives first if needed. */
  async putFile(bytes) {
    return engineCall(() => this.engine.putFile(bytesOf(bytes, 'bytes')));
  }

  /** The bytes of a CAS file, checked against their hash (from the archive when
   * archived). */
  async getFile(hash) {
    return engineCall(() => this.engine.getFile(hash));
  }

  /** Archives: builds the SQLite archive (verified), writes it, reads it back, then
   * removes the plain files. Crash-safe: after a failure the workspace is whole, and
   * running it again finishes the job. Resolves to `{action, files, bytes}`. */
  async convertToSQLite(opts) {
    return engineCall(() => this.engine.archive(progressOf(opts)));
  }

  /** Unarchives: writes every file (verified), then removes the archive. Crash-safe
   * as `convertToSQLite`. Resolves to `{action, files, bytes}`. */
  async convertToPlainFiles(opts) {
    return engineCall(() => this.engine.unarchive(progressOf(opts)));
  }

  /** The seed's `syncWorkspace` for one tree: stores the client's ops the workspace
   * lacks and returns the ops the client lacks (not in `clientOps`, not covered by the
   * client's state vector `{peerId: [[start, end], …]}`). */
  async syncWorkspace(treeId, clientOps = [], stateVector = null, { day = today() } = {}) {
    const state = stateVector == null ? undefined : JSON.stringify(stateVector);
    const missing = await engineCall(() => this.engine.syncWorkspace(treeId, JSON.stringify(clientOps), state, day));
    return JSON.parse(missing);
  }

  /** Checks the workspace (see `verify`). */
  async verify(opts) {
    return verify(await this.snapshot(), opts);
  }

  /** Space id, trees, ops and files (see `info`). */
  async info() {
    return info(await this.snapshot());
  }

  /** Writes the workspace (plain files) as an archive `to` (`'zip'` or `'sqlite'`)
   * into `file` (an empty FileSystemSyncAccessHandle or NodeFile), a file at a time,
   * then reads it back: memory holds one file of the workspace, never all of it.
   * `opts`: `onProgress`, `signal` (an AbortSignal, checked before each file).
   * Resolves to `{files, bytes}`. */
  async exportTo(file, to = 'zip', opts) {
    return engineCall(() => this.engine.exportTo(file, to, progressOf(opts), cancelOf(opts)));
  }

  /** Writes the workspace of the archive in `file` (SQLite or ZIP) into this store
   * as plain files, a file at a time, and reads them back. Nothing is replaced: the
   * store must be empty (or hold what an interrupted import of this archive wrote,
   * which this call completes); on failure or abort, what it wrote is removed.
   * Resolves to `{files, bytes}`. */
  async importFrom(file, opts) {
    return engineCall(() => this.engine.importFrom(file, progressOf(opts), cancelOf(opts)));
  }

  /** The workspace as one archive: `'zip'` or `'sqlite'` bytes. */
  async export(to = 'zip', opts) {
    return convert(await this.snapshot(), to, opts);
  }
}

