// A store over a folder, with Node's fs/promises: each write goes to a temporary file
// in the same folder, is flushed to disk, then renamed over the final name.
import { mkdir, open, readFile, readdir, rename, rm, unlink } from 'node:fs/promises';
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
  async list() {
    const out = [];
    let entries;
    try {
      entries = await readdir(this.dir, { recursive: true, withFileTypes: true });
    } catch (e) {
      if (e.code === 'ENOENT') return [];
      throw e;
    }
    for (const e of entries) {
      if (!e.isFile() || e.name.startsWith(TMP)) continue;
      const parent = e.parentPath ?? e.path;
      const rel = join(parent, e.name).slice(this.dir.length + 1);
      out.push(rel.split(sep).join('/'));
    }
    return out.sort();
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
