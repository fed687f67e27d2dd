// Sila's own IndexedDB database (Dexie's layout) as a store: the IndexedDB calls here,
// the mapping between its rows and a workspace's files in Rust (bindings-wasm/src/dexie.rs).
import { wasm, ARCHIVE_PATH, SilaStoreError, call, bytesOf, td, today } from './internal.js';

// ---------------------------------------------------------------------------------
// IndexedDB in Sila's own Dexie schema (SILA-FORMAT.md §4).
// ---------------------------------------------------------------------------------

/** Dexie `version(1)` is IndexedDB version 10. */
const DEXIE_VERSION = 10;
const SCHEMA = {
  spaces: { keyPath: 'uri', indexes: [['id', 'id'], ['name', 'name'], ['createdAt', 'createdAt'], ['userId', 'userId']] },
  spaceRefs: {
    keyPath: 'spaceRefId',
    autoIncrement: true,
    indexes: [['[spaceUri+spaceId]', ['spaceUri', 'spaceId'], true], ['spaceUri', 'spaceUri'], ['spaceId', 'spaceId']],
  },
  config: { keyPath: 'key', indexes: [] },
  treeOps: {
    keyPath: ['clock', 'peerId', 'treeId', 'spaceRefId'],
    indexes: [['spaceRefId', 'spaceRefId'], ['treeId', 'treeId'], ['[spaceRefId+treeId]', ['spaceRefId', 'treeId']]],
  },
  secrets: { keyPath: ['spaceRefId', 'key'], indexes: [['spaceRefId', 'spaceRefId']] },
};

const req = (r) =>
  new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
const done = (tx) =>
  new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new SilaStoreError('Backend', 'IndexedDB transaction aborted'));
  });

/** Opens (creating it in Dexie's layout if it does not exist) Sila's database. */
export async function openSilaDb(name = 'sila') {
  const open = (version) =>
    new Promise((resolve, reject) => {
      const r = version ? indexedDB.open(name, version) : indexedDB.open(name);
      r.onupgradeneeded = () => {
        const db = r.result;
        for (const [store, s] of Object.entries(SCHEMA)) {
          if (db.objectStoreNames.contains(store)) continue;
          const os = db.createObjectStore(store, { keyPath: s.keyPath, autoIncrement: !!s.autoIncrement });
          for (const [iname, path, unique] of s.indexes) os.createIndex(iname, path, { unique: !!unique });
        }
      };
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
  try {
    return await open(DEXIE_VERSION);
  } catch (e) {
    // A newer Sila raised the version: open it as it is.
    if (e?.name === 'VersionError') return open();
    throw e;
  }
}

/** The day an IndexedDB row is placed in when exported to plain files: rows carry no day
 * folder, so within each (tree, peer), in counter order, an op goes to the UTC day of
 * the newest `_c` (creation time) property value seen at or before it, and to the
 * export day when there is none yet. (The rule lives in the wasm module, with the rest
 * of the rows ⇄ files mapping.) */
export function placeRows(rows, exportDay = today()) {
  return call(wasm.placeRows, rows, exportDay);
}

/** A workspace kept in Sila's own IndexedDB database (`treeOps`, `spaces`,
 * `spaceRefs`, `secrets`): the store reads and writes the plain layout, so
 * `writeFiles(store, zip)` imports a workspace into the browser app's database and
 * `readFiles(store)` exports one (ops placed in day files by `placeRows`, `secrets`
 * encrypted as Sila's file is). Sila's schema keeps no files: pass `files` (another
 * store, e.g. an OpfsStore) to keep `files/…` there, or writing one fails. */
export class IndexedDbStore {
  constructor(db, { spaceId, uri, name = null, files = null, exportDay } = {}) {
    this.db = db;
    this.spaceId = spaceId ?? null;
    this.uri = uri ?? (spaceId ? `local://${spaceId}` : null);
    this.name = name;
    this.files = files;
    this.exportDay = exportDay;
    this.cache = null;
  }

  /** Opens the database `dbName` (default `sila`) for the space `spaceId`. */
  static async open({ dbName = 'sila', ...opts } = {}) {
    return new IndexedDbStore(await openSilaDb(dbName), opts);
  }

  /** The `spaces` rows of the database. */
  async spaces() {
    return req(this.db.transaction('spaces').objectStore('spaces').getAll());
  }

  async #ref(create) {
    if (!this.spaceId) throw new SilaStoreError('InvalidArgument', 'IndexedDbStore needs a spaceId (write space.json first)');
    const tx = this.db.transaction(['spaceRefs', 'spaces'], create ? 'readwrite' : 'readonly');
    const refs = tx.objectStore('spaceRefs');
    let ref = await req(refs.index('[spaceUri+spaceId]').get([this.uri, this.spaceId]));
    if (!ref && create) {
      const spaces = tx.objectStore('spaces');
      if (!(await req(spaces.get(this.uri)))) {
        spaces.put({ uri: this.uri, id: this.spaceId, name: this.name, createdAt: new Date(), userId: null, ttabsLayout: null, drafts: null });
      }
      const id = await req(refs.add({ spaceUri: this.uri, spaceId: this.spaceId }));
      ref = { spaceRefId: id };
    }
    await done(tx);
    return ref?.spaceRefId ?? null;
  }

  async #export() {
    if (this.cache) return this.cache;
    const files = new Map();
    if (!this.spaceId) return files;
    const ref = await this.#ref(false);
    if (ref == null) return files;
    const tx = this.db.transaction(['treeOps', 'secrets']);
    const rows = await req(tx.objectStore('treeOps').index('spaceRefId').getAll(ref));
    const secrets = await req(tx.objectStore('secrets').index('spaceRefId').getAll(ref));
    const iv = crypto.getRandomValues(new Uint8Array(12));
    for (const [path, bytes] of call(wasm.rowsToFiles, this.spaceId, rows, secrets, this.exportDay ?? today(), iv)) files.set(path, bytes);
    this.cache = files;
    return files;
  }

  async list() {
    const own = [...(await this.#export()).keys()];
    const other = this.files ? await this.files.list() : [];
    return [...own, ...other].sort();
  }

  async read(path) {
    const own = (await this.#export()).get(path);
    if (own) return own;
    return this.files ? this.files.read(path) : null;
  }

  async write(path, bytes) {
    const kind = path === ARCHIVE_PATH ? 'archive' : call(wasm.classifyPath, path);
    bytes = bytesOf(bytes, path);
    this.cache = null;
    if (kind === 'space.json') {
      const id = JSON.parse(td.decode(bytes)).id;
      if (this.spaceId && id !== this.spaceId) {
        throw new SilaStoreError('InvalidArgument', `space.json names ${id}, this store holds ${this.spaceId}`);
      }
      if (!this.spaceId) {
        this.spaceId = id;
        this.uri ??= `local://${id}`;
      }
      await this.#ref(true);
      return;
    }
    if (kind === 'sila.md') return;
    if (kind === 'ops') {
      const ref = await this.#ref(true);
      const rows = call(wasm.fileToRows, path, bytes, ref);
      const tx = this.db.transaction('treeOps', 'readwrite');
      const store = tx.objectStore('treeOps');
      for (const row of rows) store.put(row);
      await done(tx);
      return;
    }
    if (kind === 'secrets') {
      const ref = await this.#ref(true);
      const plain = call(wasm.decryptSecrets, this.spaceId, bytes);
      const tx = this.db.transaction('secrets', 'readwrite');
      for (const [key, value] of Object.entries(plain)) tx.objectStore('secrets').put({ spaceRefId: ref, key, value });
      await done(tx);
      return;
    }
    if (!this.files) {
      throw new SilaStoreError('InvalidArgument', `Sila's IndexedDB schema keeps no files (${path}); give IndexedDbStore a \`files\` store`);
    }
    await this.files.write(path, bytes);
  }

  async remove(path) {
    this.cache = null;
    const kind = path === ARCHIVE_PATH ? 'archive' : call(wasm.classifyPath, path);
    if (kind === 'ops') {
      const ref = await this.#ref(false);
      const own = (await this.#export()).get(path);
      if (ref == null || !own) return;
      const tx = this.db.transaction('treeOps', 'readwrite');
      for (const r of call(wasm.fileToRows, path, own, ref)) tx.objectStore('treeOps').delete([r.clock, r.peerId, r.treeId, r.spaceRefId]);
      await done(tx);
      this.cache = null;
    } else if (kind === 'secrets') {
      const ref = await this.#ref(false);
      if (ref == null) return;
      const tx = this.db.transaction('secrets', 'readwrite');
      const keys = await req(tx.objectStore('secrets').index('spaceRefId').getAllKeys(ref));
      for (const k of keys) tx.objectStore('secrets').delete(k);
      await done(tx);
    } else if (this.files && kind !== 'space.json' && kind !== 'sila.md') {
      await this.files.remove(path);
    }
  }
}
