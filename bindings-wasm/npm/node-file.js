// Files on Node in the shape of the browser's FileSystemSyncAccessHandle, so the
// package reads and writes archives of any size in place (`convertFile`,
// `WorkspaceStorage.exportTo` / `importFrom`): synchronous positioned reads and writes
// on a file descriptor.
import {
  closeSync, fstatSync, fsyncSync, ftruncateSync, linkSync, openSync, readSync, rmSync, writeSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, basename, join } from 'node:path';

/** A file open for `read(buffer, {at})`, `write(buffer, {at})`, `getSize()`,
 * `truncate(size)`, `flush()` and `close()`. */
export class NodeFile {
  /** Opens an existing file, read-only. */
  static open(path) {
    return new NodeFile(openSync(path, 'r'), path);
  }

  /** Creates a new, empty file for reading and writing; fails if `path` exists. */
  static create(path) {
    return new NodeFile(openSync(path, 'wx+'), path);
  }

  constructor(fd, path) {
    this.fd = fd;
    this.path = path;
  }
  read(buffer, { at = 0 } = {}) {
    return readSync(this.fd, buffer, 0, buffer.length, at);
  }
  write(buffer, { at = 0 } = {}) {
    return writeSync(this.fd, buffer, 0, buffer.length, at);
  }
  getSize() {
    return fstatSync(this.fd).size;
  }
  truncate(size) {
    ftruncateSync(this.fd, size);
  }
  flush() {
    fsyncSync(this.fd);
  }
  close() {
    if (this.fd != null) closeSync(this.fd);
    this.fd = null;
  }
}

/** Creates the file `path` through `fill(file)` (sync or async, given a fresh
 * `NodeFile`): it is written under a temporary name beside `path`, made durable, and
 * appears at `path` only once complete, never over an existing file (`AlreadyExists`
 * then, and nothing is left). Resolves to what `fill` returned. */
export async function createFile(path, fill) {
  const tmp = join(dirname(path), `.${basename(path)}.sila-store-tmp-${randomBytes(6).toString('hex')}`);
  const file = NodeFile.create(tmp);
  try {
    const out = await fill(file);
    file.flush();
    file.close();
    try {
      linkSync(tmp, path);
    } catch (e) {
      if (e.code === 'EEXIST') {
        const err = new Error(`already exists: ${path}`);
        err.name = 'SilaStoreError';
        err.code = 'AlreadyExists';
        throw err;
      }
      throw e;
    }
    return out;
  } finally {
    file.close();
    rmSync(tmp, { force: true });
  }
}
