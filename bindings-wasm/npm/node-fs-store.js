// A store over a folder, with Node's fs/promises: each write goes to a temporary file
// in the same folder, is flushed to disk, then renamed over the final name.
import { mkdir, open, readFile, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { randomBytes } from 'node:crypto';
import { checkPath } from './lib.js';

const TMP = '.sila-store-tmp-';

/** The plain layout in a folder (Node). */
export class NodeFsStore {
  constructor(dir) {
    this.dir = dir;
  }
  #abs(path) {
    checkPath(path);
    return join(this.dir, ...path.split('/'));
  }
  async list(prefix = '') {
    const out = [];
    // Start at the deepest folder the prefix names.
    const start = prefix.split('/').slice(0, -1);
    const from = join(this.dir, ...start);
    let entries;
    try {
      entries = await readdir(from, { recursive: true, withFileTypes: true });
    } catch (e) {
      if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return [];
      throw e;
    }
    for (const e of entries) {
      if (!e.isFile() || e.name.startsWith(TMP)) continue;
      const parent = e.parentPath ?? e.path;
      const rel = join(parent, e.name).slice(this.dir.length + 1).split(sep).join('/');
      if (rel.startsWith(prefix)) out.push(rel);
    }
    return out.sort();
  }
  async size(path) {
    try {
      const s = await stat(this.#abs(path));
      return s.isFile() ? s.size : null;
    } catch (e) {
      if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return null;
      throw e;
    }
  }
  /** Appends and flushes to disk (a new file's folder is created). */
  async append(path, bytes) {
    const abs = this.#abs(path);
    await mkdir(dirname(abs), { recursive: true });
    const fh = await open(abs, 'a');
    try {
      await fh.writeFile(bytes);
      await fh.datasync();
    } finally {
      await fh.close();
    }
  }
  async read(path) {
    try {
      return new Uint8Array(await readFile(this.#abs(path)));
    } catch (e) {
      if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return null;
      throw e;
    }
  }
  async write(path, bytes) {
    const abs = this.#abs(path);
    await mkdir(dirname(abs), { recursive: true });
    const tmp = join(dirname(abs), TMP + randomBytes(6).toString('hex'));
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } catch (e) {
      await fh.close();
      await unlink(tmp).catch(() => {});
      throw e;
    }
    await fh.close();
    await rename(tmp, abs);
  }
  async remove(path) {
    await rm(this.#abs(path), { force: true });
  }
}
