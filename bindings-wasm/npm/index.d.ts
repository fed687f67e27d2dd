// Types of the npm package `sila-store` (both entries: node.js and web.js).

/** A workspace: SQLite or ZIP archive bytes, plain files, or an archive file read in place (big workspaces). */
export type Workspace = Uint8Array | WorkspaceFile[] | SyncFile;
/** One file of a plain workspace: its path relative to the workspace root ('/'-separated). */
export interface WorkspaceFile { path: string; bytes: Uint8Array }
export type Format = 'sqlite' | 'zip' | 'plain';
export interface ProgressInfo { done: number; total: number; phase: string }
export interface ProgressOptions { onProgress?: (p: ProgressInfo) => void }
export interface DayRange { from?: string; to?: string }

/** An error with a stable code: 'HashMismatch', 'SizeMismatch', 'UnsupportedVersion', 'UnsafePath',
 * 'InvalidId', 'InvalidUtf8', 'NotAnArchive', 'Corrupt', 'NotAWorkspace', 'DuplicateEntry', 'NotFound',
 * 'AlreadyExists', 'Secrets', 'InvalidArgument', 'Sqlite', 'Internal', … */
export class SilaStoreError extends Error {
  code: string;
  constructor(code: string, message: string);
}

export interface TreeInfo { id: string; ops: number; appId?: string; name?: string }
export interface WorkspaceInfo {
  format: string; spaceId?: string; spaceName?: string; trees: TreeInfo[]; opsFiles: number; ops: number;
  moves: number; props: number; rawLines: number; peers: number; days: string[]; staticFiles: number;
  staticBytes: number; mutableFiles: number; mutableBytes: number; hasSecrets: boolean; otherFiles: string[];
  files: number; totalBytes: number;
}
export interface Problem { code: string; path?: string; message: string }
export interface VerifyReport { ok: boolean; errors: Problem[]; warnings: Problem[]; info?: WorkspaceInfo; [k: string]: unknown }
/** One op line as stored: the exact text Sila wrote and where. */
export interface Operation { day: string; peer: string; fileKind: 'm' | 'p' | 'legacy'; line: string }
/** RepTree's VertexOperation: a move (parentId) or a property (key, value; no value = deleted). */
export interface VertexOperation {
  id: { counter: number; peerId: string };
  targetId: string;
  parentId?: string | null;
  key?: string;
  value?: unknown;
  transient?: boolean;
}
export type StateVector = Record<string, [number, number][]>;

export const SILA_MD: string;
export const ARCHIVE_PATH: string;
export function version(): string;
/** Bytes of the package's WebAssembly memory (it never shrinks: the peak). */
export function wasmMemoryBytes(): number;
export function detectFormat(workspace: Workspace): Format | 'unknown';
export function zipToSqlite(zip: Uint8Array, opts?: ProgressOptions): Uint8Array;
export function sqliteToZip(db: Uint8Array, opts?: ProgressOptions): Uint8Array;
export function convert(workspace: Workspace, to: 'sqlite' | 'zip', opts?: ProgressOptions): Uint8Array;
export function convert(workspace: Workspace, to: 'plain', opts?: ProgressOptions): WorkspaceFile[];
export function verify(workspace: Workspace, opts?: ProgressOptions): VerifyReport;
export function info(workspace: Workspace): WorkspaceInfo;
/** A chat listed in the space tree's `threads`. */
export interface ChatInfo { treeId: string; threadVertex: string; title: string | null; messages: number; mainBranch: number; hasOps: boolean }
/** A file vertex a message attaches. */
export interface FileRef { tree: string; vertex: string }
/** A message along a chat's main branch. */
export interface MessageInfo { id: string; role: string | null; text: string | null; createdAt: string | null; model: string | null; files: FileRef[] }
/** A file vertex of the workspace and whether its bytes are present. */
export interface FileInfo { treeId: string; vertex: string; folder: string; name: string | null; mimeType: string | null; size: number | null; hash: string | null; mutableId: string | null; present: boolean }
/** The space as Sila shows it. */
export interface SpaceSummary { spaceId: string | null; name: string | null; chats: ChatInfo[]; messages: number; files: FileInfo[]; warnings: Problem[]; errors: Problem[] }
/** A vertex of a tree: properties as raw JSON text, in RepTree's order. */
export interface VertexInfo { id: string; parent: string | null; props: { key: string; value: string }[]; children: string[] }
/** The space as Sila shows it (every tree rebuilt exactly as RepTree does). */
export function show(workspace: Workspace): SpaceSummary;
/** A chat (tree id, `threads` vertex id or title) and its main-branch messages. */
export function chat(workspace: Workspace, chatId: string): { chat: ChatInfo; messages: MessageInfo[] };
/** Every vertex of a tree in creation order. */
export function tree(workspace: Workspace, treeId: string): VertexInfo[];
export function getOperations(workspace: Workspace, treeId: string, range?: DayRange): Operation[];
export function sha256(bytes: Uint8Array): string;
export function checkPath(path: string): void;
export function opToLine(op: VertexOperation): { kind: 'm' | 'p'; line: string };
export function parseOpsFile(path: string, bytes: Uint8Array): VertexOperation[];
export function readFiles(store: Store): Promise<WorkspaceFile[]>;
export function writeFiles(store: Store, workspace: Workspace, opts?: ProgressOptions): Promise<number>;
export function openWorkspace(store: Store): WorkspaceStorage;

/** Where a workspace's files live. `write` must be atomic (all the bytes or none). */
export interface Store {
  /** The paths starting with `prefix` (all when empty); extra paths are filtered out. */
  list(prefix?: string): Promise<string[]>;
  read(path: string): Promise<Uint8Array | null>;
  write(path: string, bytes: Uint8Array): Promise<void>;
  remove(path: string): Promise<void>;
  /** Optional: append durably (else the engine reads and rewrites the file). */
  append?(path: string, bytes: Uint8Array): Promise<void>;
  /** Optional: the size of a file, or null (else the engine reads it). */
  size?(path: string): Promise<number | null>;
}

/** The seed's WorkspaceStorage over one store. */
export class WorkspaceStorage {
  constructor(store: Store);
  readonly store: Store;
  getWorkspaceFormat(): Promise<'sqlite' | 'plain' | 'empty'>;
  snapshot(): Promise<Workspace>;
  getOperations(treeId: string, range?: DayRange): Promise<Operation[]>;
  putOperation(treeId: string, op: VertexOperation): Promise<void>;
  putOperations(treeId: string, ops: VertexOperation[], opts?: { day?: string }): Promise<number>;
  putFile(bytes: Uint8Array): Promise<string>;
  getFile(sha256: string): Promise<Uint8Array>;
  /** Archives in place, crash-safe (a rerun finishes the job). */
  convertToSQLite(opts?: ProgressOptions): Promise<{ action: string; files: number; bytes: number }>;
  /** Unarchives, crash-safe (a rerun finishes the job). */
  convertToPlainFiles(opts?: ProgressOptions): Promise<{ action: string; files: number; bytes: number }>;
  syncWorkspace(treeId: string, clientOps?: VertexOperation[], stateVector?: StateVector | null): Promise<VertexOperation[]>;
  verify(opts?: ProgressOptions): Promise<VerifyReport>;
  info(): Promise<WorkspaceInfo>;
  export(to?: 'zip' | 'sqlite', opts?: ProgressOptions): Promise<Uint8Array>;
  /** Writes the workspace as an archive into an empty file, a file at a time (bounded memory), then reads it back. */
  exportTo(file: SyncFile, to?: 'zip' | 'sqlite', opts?: WorkOptions): Promise<FileSummary>;
  /** Writes the workspace of the archive in `file` into this (empty) store, a file at a time; replaces nothing. */
  importFrom(file: SyncFile, opts?: WorkOptions): Promise<FileSummary>;
}

/** A file read and written in place, synchronously: the shape of the browser's
 * `FileSystemSyncAccessHandle` (OPFS, in a worker); `NodeFile` and `blobFile` give it too.
 * `write`, `truncate` and `flush` are needed only to write. */
export interface SyncFile {
  read(buffer: Uint8Array, opts?: { at?: number }): number;
  write?(buffer: Uint8Array, opts?: { at?: number }): number;
  getSize(): number;
  truncate?(size: number): void;
  flush?(): void;
}
export interface WorkOptions extends ProgressOptions { signal?: AbortSignal }
export interface FileSummary { files: number; bytes: number }
/** Converts the archive in `src` to `to` in the empty file `dst`, verified; synchronous (use a worker for big files). */
export function convertFile(src: SyncFile, dst: SyncFile, to: 'sqlite' | 'zip', opts?: WorkOptions): FileSummary;
/** One CAS file from a SQLite archive in a file, reading only its pages. */
export function getFileFromArchive(file: SyncFile, sha256: string): Uint8Array;
/** Copies a file into a WritableStream (a save picker's file, Node's Writable.toWeb(...)) a slice at a time; closes it. */
export function copyFileTo(file: SyncFile, writable: WritableStream<Uint8Array>, opts?: { chunk?: number }): Promise<void>;
/** A read-only SyncFile over a Blob or File (workers only: FileReaderSync). */
export function blobFile(blob: Blob): SyncFile;
/** Node only (throws in the browser entry): a file on disk as a SyncFile. */
export class NodeFile implements SyncFile {
  static open(path: string): NodeFile;
  static create(path: string): NodeFile;
  readonly path: string;
  read(buffer: Uint8Array, opts?: { at?: number }): number;
  write(buffer: Uint8Array, opts?: { at?: number }): number;
  getSize(): number;
  truncate(size: number): void;
  flush(): void;
  close(): void;
}
/** Node only: creates `path` through `fill(file)`; it appears only complete, never over an existing file. */
export function createFile<T>(path: string, fill: (file: NodeFile) => T | Promise<T>): Promise<T>;

export class MemoryStore implements Store {
  constructor(files?: WorkspaceFile[]);
  files: Map<string, Uint8Array>;
  list(prefix?: string): Promise<string[]>; read(path: string): Promise<Uint8Array | null>;
  write(path: string, bytes: Uint8Array): Promise<void>; remove(path: string): Promise<void>;
}
export class CallbackStore implements Store {
  constructor(fns: Store);
  list(prefix?: string): Promise<string[]>; read(path: string): Promise<Uint8Array | null>;
  write(path: string, bytes: Uint8Array): Promise<void>; remove(path: string): Promise<void>;
}
export class OpfsStore implements Store {
  constructor(dir: FileSystemDirectoryHandle);
  static open(name: string, opts?: { create?: boolean }): Promise<OpfsStore>;
  static listDirectories(): Promise<string[]>;
  static removeDirectory(name: string): Promise<void>;
  readonly dir: FileSystemDirectoryHandle;
  list(prefix?: string): Promise<string[]>; read(path: string): Promise<Uint8Array | null>;
  readRange(path: string, offset: number, length: number): Promise<Uint8Array>;
  write(path: string, bytes: Uint8Array): Promise<void>; remove(path: string): Promise<void>;
}
/** Node only (throws in the browser entry). */
export class NodeFsStore implements Store {
  constructor(dir: string);
  list(prefix?: string): Promise<string[]>; read(path: string): Promise<Uint8Array | null>;
  write(path: string, bytes: Uint8Array): Promise<void>; remove(path: string): Promise<void>;
}
export interface IndexedDbStoreOptions { spaceId?: string; uri?: string; name?: string | null; files?: Store | null; exportDay?: string }
/** A workspace in Sila's own IndexedDB database (Dexie schema: spaces, spaceRefs, treeOps, secrets). */
export class IndexedDbStore implements Store {
  constructor(db: IDBDatabase, opts?: IndexedDbStoreOptions);
  static open(opts?: IndexedDbStoreOptions & { dbName?: string }): Promise<IndexedDbStore>;
  readonly db: IDBDatabase;
  spaceId: string | null;
  spaces(): Promise<unknown[]>;
  list(prefix?: string): Promise<string[]>; read(path: string): Promise<Uint8Array | null>;
  write(path: string, bytes: Uint8Array): Promise<void>; remove(path: string): Promise<void>;
}
export function openSilaDb(name?: string): Promise<IDBDatabase>;
export function placeRows<R extends { clock: number; peerId: string; treeId: string }>(rows: R[], exportDay?: string): { row: R; day: string }[];

/** Runs the storage engine's conformance suite on a store implementation; `makeStore()`
 * gives a fresh, empty store for each check. `tiers`: also the server tiers' checks.
 * `only`: just the store checks of these names (for a store that keeps part of the
 * layout, such as `IndexedDbStore`). */
export function checkStore(makeStore: () => Store | Promise<Store>, opts?: { tiers?: boolean; only?: string[] }): Promise<{ passed: string[]; failed: { check: string; message: string }[] }>;
