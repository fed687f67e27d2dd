// Shared by the package's modules (not exported from the package): the wasm module,
// errors with their codes, byte and progress arguments, and constants.
import * as wasm from './wasm/sila_store_wasm.js';

export { wasm };

/** Where a store keeps a workspace that is archived (one SQLite archive). */
export const ARCHIVE_PATH = 'sila-store-archive.sqlite';

export const SPACE_JSON = 'space-v1/space.json';
export const te = new TextEncoder();
export const td = new TextDecoder('utf-8', { fatal: true });

/** An error with a stable `code` (`HashMismatch`, `UnsupportedVersion`, `UnsafePath`…). */
export class SilaStoreError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'SilaStoreError';
    this.code = code;
  }
}

/** Calls into wasm: core errors come with their code; a Rust panic (a wasm trap) is
 * turned into an `Internal` error carrying the panic's message, never an opaque
 * `unreachable`. */
export function call(f, ...args) {
  try {
    return f(...args);
  } catch (e) {
    if (e instanceof SilaStoreError) throw e;
    if (e instanceof WebAssembly.RuntimeError) {
      let panic = null;
      try {
        panic = wasm.takePanic();
      } catch {
        // the module is unusable; keep the trap's message
      }
      throw new SilaStoreError('Internal', `internal error in sila-store: ${panic ?? e.message}`);
    }
    if (e && typeof e === 'object' && typeof e.code === 'string') {
      throw new SilaStoreError(e.code, e.message);
    }
    throw e;
  }
}

export function bytesOf(x, what) {
  if (x instanceof Uint8Array) return x;
  if (x instanceof ArrayBuffer) return new Uint8Array(x);
  if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  throw new SilaStoreError('InvalidArgument', `${what} must be a Uint8Array`);
}

/** `isCancelled()` for the engine from `opts.signal` (an AbortSignal); throws
 * `Cancelled` if it is already aborted. */
export function cancelOf(opts) {
  const signal = opts?.signal;
  if (!signal) return undefined;
  if (signal.aborted) throw new SilaStoreError('Cancelled', 'cancelled: stopped by the caller');
  return () => signal.aborted;
}

export const progressOf = (opts) => (opts && typeof opts.onProgress === 'function' ? opts.onProgress : undefined);

export const today = () => wasm.dayOf(Date.now());

/** Awaits an engine call: its errors come with their code, like `call`'s. */
export async function engineCall(f) {
  try {
    return await call(f);
  } catch (e) {
    if (e instanceof SilaStoreError) throw e;
    if (e && typeof e === 'object' && typeof e.code === 'string') throw new SilaStoreError(e.code, e.message);
    throw e;
  }
}

