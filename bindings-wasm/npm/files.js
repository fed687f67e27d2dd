// Workspaces in files the host opened, read and written in place a page or an entry
// at a time, never whole in memory: an OPFS FileSystemSyncAccessHandle (in a worker),
// a NodeFile, or blobFile(blob) to read an upload. `info`, `verify`, `show`, `chat`,
// `tree` and `getOperations` take such a file as their workspace too. All synchronous:
// run them in a worker (or a Node process) for big files.
import { wasm, SilaStoreError, call, progressOf, cancelOf } from './internal.js';

/** Converts the archive in the file `src` (SQLite or ZIP) to `to` (`'sqlite'` or
 * `'zip'`) in the file `dst`, which must be empty; the result is read back and
 * compared with the source. Returns `{files, bytes}`. */
export function convertFile(src, dst, to, opts) {
  cancelOf(opts);
  return call(wasm.convertFile, src, dst, to, progressOf(opts));
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

/** Copies a file (a FileSystemSyncAccessHandle, a NodeFile…) into a `WritableStream`
 * (a `showSaveFilePicker` file's `createWritable()`, a download, Node's
 * `Writable.toWeb(stream)`) a slice at a time, so an exported archive goes anywhere
 * without being held in memory. The stream is closed at the end, aborted on error. */
export async function copyFileTo(file, writable, { chunk = 1 << 20 } = {}) {
  const writer = writable.getWriter();
  try {
    const size = file.getSize();
    for (let at = 0; at < size; ) {
      const buf = new Uint8Array(Math.min(chunk, size - at));
      const n = file.read(buf, { at });
      if (!n) throw new SilaStoreError('Io', `the file ended at ${at} of ${size} bytes`);
      await writer.write(n === buf.length ? buf : buf.subarray(0, n));
      at += n;
    }
    await writer.close();
  } catch (e) {
    await writer.abort(e).catch(() => {});
    throw e;
  }
}
