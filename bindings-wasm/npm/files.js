// Workspaces in files the host opened, read and written in place a page or an entry
// at a time, never whole in memory: an OPFS FileSystemSyncAccessHandle (in a worker),
// a NodeFile, or blobFile(blob) to read an upload. All synchronous: run them in a
// worker (or a Node process) for big files.
import { wasm, SilaStoreError, call, progressOf, cancelOf } from './internal.js';

/** Converts the archive in the file `src` (SQLite or ZIP) to `to` (`'sqlite'` or
 * `'zip'`) in the file `dst`, which must be empty; the result is read back and
 * compared with the source. Returns `{files, bytes}`. */
export function convertFile(src, dst, to, opts) {
  cancelOf(opts);
  return call(wasm.convertFile, src, dst, to, progressOf(opts));
}

/** `verify` for the archive in a file, reading it once. */
export function verifyFile(file, opts) {
  return call(wasm.verifyFile, file, progressOf(opts));
}

/** `info` for the archive in a file. */
export function infoFile(file) {
  return call(wasm.infoFile, file);
}

/** The ops of a tree in day folders `from..to` of the archive in a file (a SQLite
 * archive reads only those rows' pages). */
export function getOperationsFromFile(file, treeId, range = {}) {
  return call(wasm.getOperationsFile, file, treeId, range.from ?? undefined, range.to ?? undefined);
}

/** The bytes of a CAS file from the SQLite archive in a file, reading only its pages;
 * checked against the hash. */
export function getFileFromArchive(file, hash) {
  return call(wasm.getFileFromArchive, file, hash);
}

/** A read-only file over a `Blob` or `File` (an upload), read by slices with
 * `FileReaderSync`: in workers only, where reads may block. */
export function blobFile(blob) {
  if (typeof FileReaderSync === 'undefined') {
    throw new SilaStoreError('InvalidArgument', 'blobFile needs FileReaderSync: call it in a worker');
  }
  const reader = new FileReaderSync();
  return {
    read(buffer, { at = 0 } = {}) {
      const bytes = new Uint8Array(reader.readAsArrayBuffer(blob.slice(at, at + buffer.length)));
      buffer.set(bytes);
      return bytes.length;
    },
    getSize() {
      return blob.size;
    },
  };
}
