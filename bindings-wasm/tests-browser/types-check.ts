// Compiled with `tsc --noEmit` by scripts/test-wasm: the package's types cover the API
// as the README uses it.
import {
  CallbackStore, IndexedDbStore, MemoryStore, NodeFsStore, OpfsStore, SilaStoreError, convert, getOperations,
  chat, info, openWorkspace, readFiles, show, sqliteToZip, tree, verify, writeFiles, zipToSqlite,
  type MessageInfo, type Operation, type SpaceSummary, type VerifyReport, type VertexInfo, type VertexOperation,
  type WorkspaceFile, type FileSummary, type SyncFile, NodeFile, createFile, convertFile, getFileFromArchive, blobFile,
  copyFileTo, wasmMemoryBytes,
} from 'sila-store';

export async function example(zip: Uint8Array): Promise<number> {
  const db: Uint8Array = zipToSqlite(zip, { onProgress: (p) => console.log(p.phase, p.done / p.total) });
  const back: Uint8Array = sqliteToZip(db);
  const files: WorkspaceFile[] = convert(back, 'plain');
  const report: VerifyReport = verify(files);
  const ops: Operation[] = getOperations(db, info(db).spaceId ?? '', { from: '2026-01-01' });
  const store = new CallbackStore(new MemoryStore());
  await writeFiles(store, files);
  const ws = openWorkspace(await OpfsStore.open('x'));
  const op: VertexOperation = { id: { counter: 1, peerId: 'p' }, targetId: 't', key: 'k', value: 1 };
  await ws.putOperation('t', op);
  const missing: VertexOperation[] = await ws.syncWorkspace('t', [op], { p: [[1, 1]] });
  const idb = await IndexedDbStore.open({ spaceId: 'x', files: new NodeFsStore('/tmp/x') });
  try {
    await readFiles(idb);
  } catch (e) {
    if (e instanceof SilaStoreError) console.log(e.code);
  }
  const summary: SpaceSummary = show(db);
  const first = summary.chats[0];
  const messages: MessageInfo[] = first ? chat(db, first.treeId).messages : [];
  const vertices: VertexInfo[] = first?.hasOps ? tree(db, first.treeId) : [];
  return report.errors.length + ops.length + missing.length + messages.length + vertices.length;
}

// Big workspaces: archives as files, in place.
export async function files(dir: string, blob: Blob): Promise<number> {
  const ws = openWorkspace(new NodeFsStore(dir));
  const made: FileSummary = await createFile(`${dir}.db`, (f: NodeFile) => ws.exportTo(f, 'sqlite', { signal: new AbortController().signal }));
  const db = NodeFile.open(`${dir}.db`);
  const zip = NodeFile.create(`${dir}.zip`);
  const converted: FileSummary = convertFile(db, zip, 'zip', { onProgress: (p) => console.log(p.done) });
  const model: SpaceSummary = show(db);
  const bytes: Uint8Array = getFileFromArchive(db, 'ab'.repeat(32));
  await openWorkspace(new MemoryStore()).importFrom(blobFile(blob));
  const upload: SyncFile = blobFile(blob);
  await copyFileTo(zip, new WritableStream<Uint8Array>());
  return made.files + converted.bytes + model.chats.length + bytes.length + upload.getSize() + wasmMemoryBytes();
}
