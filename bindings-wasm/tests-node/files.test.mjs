// Workspaces in files, in place (NodeFile): plain → SQLite → ZIP → plain through
// NodeFsStore for every fixture, byte for byte; one blob and one tree's ops read from
// the archive file; nothing replaced; a cancelled import leaves nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream, mkdtempSync, readdirSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sila from 'sila-store';
import { listing } from './listing.mjs';

const ROOT = process.env.SILA_STORE_ROOT;
const fixtures = ['tests/fixtures', 'tests/fixtures-edge'].flatMap((d) =>
  readdirSync(join(ROOT, d), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => ({ name: e.name, dir: join(ROOT, d, e.name) })),
);
const tmp = () => mkdtempSync(join(tmpdir(), 'sila-store-files-'));

/** `f(file)` with `path` open read-only (until `f`'s promise settles). */
async function withFile(path, f) {
  const file = sila.NodeFile.open(path);
  try {
    return await f(file);
  } finally {
    file.close();
  }
}

for (const fx of fixtures) {
  test(`${fx.name}: plain → SQLite → ZIP → plain in files, byte for byte`, async () => {
    const t = tmp();
    const source = sila.openWorkspace(new sila.NodeFsStore(fx.dir));
    const db = join(t, 'ws.db');
    const zip = join(t, 'ws.zip');
    const phases = new Set();
    const exported = await sila.createFile(db, (f) =>
      source.exportTo(f, 'sqlite', { onProgress: (p) => phases.add(p.phase) }),
    );
    assert.ok(phases.has('converting') && phases.has('verifying'), [...phases].join());
    assert.equal(exported.files, Object.keys(listing(fx.dir)).length);
    const converted = await sila.createFile(zip, (f) => withFile(db, (src) => sila.convertFile(src, f, 'zip')));
    assert.deepEqual(converted, exported);
    const out = join(t, 'out');
    const back = sila.openWorkspace(new sila.NodeFsStore(out));
    assert.deepEqual(await withFile(zip, (f) => back.importFrom(f)), exported);
    assert.deepEqual(listing(out), listing(fx.dir));
    // The archive file reads as the in-memory codec reads its bytes.
    const bytes = new Uint8Array(readFileSync(db));
    assert.deepEqual(await withFile(db, (f) => sila.info(f)), sila.info(bytes));
    assert.deepEqual(await withFile(db, (f) => sila.verify(f)), sila.verify(bytes));
    assert.deepEqual(await withFile(db, (f) => sila.show(f)), sila.show(bytes));
    assert.equal(await withFile(zip, (f) => sila.detectFormat(f)), 'zip');
    for (const tr of sila.info(bytes).trees.slice(0, 3)) {
      assert.deepEqual(await withFile(db, (f) => sila.getOperations(f, tr.id)), sila.getOperations(bytes, tr.id));
    }
    // Into any WritableStream (here a Node stream), a slice at a time.
    const copy = join(t, 'copy.zip');
    await withFile(zip, (f) => sila.copyFileTo(f, Writable.toWeb(createWriteStream(copy)), { chunk: 4096 }));
    assert.deepEqual(readFileSync(copy), readFileSync(zip));
    const blob = Object.keys(listing(fx.dir)).find((p) => p.startsWith('space-v1/files/static/'));
    if (blob) {
      const hash = blob.split('/').slice(-2).join('');
      const want = readFileSync(join(fx.dir, blob));
      assert.deepEqual(Buffer.from(await withFile(db, (f) => sila.getFileFromArchive(f, hash))), want);
    }
    rmSync(t, { recursive: true });
  });
}

test('files: nothing is replaced, a cancelled import leaves nothing, bad files are refused', async () => {
  const t = tmp();
  const fx = fixtures.find((f) => f.name === 'rich') ?? fixtures[0];
  const source = sila.openWorkspace(new sila.NodeFsStore(fx.dir));
  const db = join(t, 'ws.db');
  await sila.createFile(db, (f) => source.exportTo(f, 'sqlite'));
  const size = readFileSync(db).length;
  // An existing destination is never replaced, and no temporary file is left.
  await assert.rejects(
    sila.createFile(db, (f) => source.exportTo(f, 'zip')),
    (e) => e.code === 'AlreadyExists',
  );
  assert.equal(readFileSync(db).length, size);
  assert.deepEqual(readdirSync(t), ['ws.db']);
  // A file that is not empty is not written into.
  writeFileSync(join(t, 'full'), 'keep me');
  const full = sila.NodeFile.open(join(t, 'full'));
  await assert.rejects(source.exportTo(full, 'zip'), (e) => e.code === 'AlreadyExists');
  full.close();
  assert.equal(readFileSync(join(t, 'full'), 'utf8'), 'keep me');
  // An import into a store holding something else: refused, nothing changed.
  const other = join(t, 'other');
  const store = new sila.NodeFsStore(other);
  await store.write('notes.txt', new TextEncoder().encode('mine'));
  await assert.rejects(
    withFile(db, (f) => sila.openWorkspace(store).importFrom(f)),
    (e) => e.code === 'AlreadyExists',
  );
  assert.deepEqual(Object.keys(listing(other)), ['notes.txt']);
  // Cancelled half-way: nothing is left; again without a signal: the whole workspace.
  const out = join(t, 'out');
  const ac = new AbortController();
  let files = 0;
  await assert.rejects(
    withFile(db, (f) =>
      sila.openWorkspace(new sila.NodeFsStore(out)).importFrom(f, {
        signal: ac.signal,
        onProgress: () => {
          if (++files === 3) ac.abort();
        },
      }),
    ),
    (e) => e.code === 'Cancelled',
  );
  assert.deepEqual(existsSync(out) ? Object.keys(listing(out)) : [], []);
  await withFile(db, (f) => sila.openWorkspace(new sila.NodeFsStore(out)).importFrom(f));
  assert.deepEqual(listing(out), listing(fx.dir));
  // Bytes that are no archive: a typed error, nothing written.
  writeFileSync(join(t, 'junk'), 'not an archive at all');
  await assert.rejects(
    withFile(join(t, 'junk'), (f) => sila.openWorkspace(new sila.NodeFsStore(join(t, 'j'))).importFrom(f)),
    (e) => e.code === 'NotAWorkspace',
  );
  assert.ok(!existsSync(join(t, 'j')) || Object.keys(listing(join(t, 'j'))).length === 0);
  await assert.rejects(withFile(join(t, 'junk'), (f) => sila.info(f)), (e) => e.code === 'NotAWorkspace');
  rmSync(t, { recursive: true });
});
