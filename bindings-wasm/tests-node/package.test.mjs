// The npm package as users get it: this file runs in a temporary project where the
// packed tarball is installed (scripts/test-wasm), so `sila-store` resolves to the
// package's Node entry. SILA_STORE_CLI is the native CLI; SILA_STORE_ROOT the repo.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, existsSync, cpSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sila from 'sila-store';
import { listing } from './listing.mjs';

const ROOT = process.env.SILA_STORE_ROOT;
const CLI = process.env.SILA_STORE_CLI;
assert.ok(ROOT && CLI, 'SILA_STORE_ROOT and SILA_STORE_CLI must be set (scripts/test-wasm sets them)');

const fixtures = ['tests/fixtures', 'tests/fixtures-edge'].flatMap((d) =>
  readdirSync(join(ROOT, d), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => ({ name: e.name, dir: join(ROOT, d, e.name) })),
);
const tmp = () => mkdtempSync(join(tmpdir(), 'sila-store-npm-'));
const cli = (...args) => execFileSync(CLI, args, { encoding: 'utf8' });

const filesListing = (files) =>
  Object.fromEntries(files.map((f) => [f.path, createHash('sha256').update(f.bytes).digest('hex')]));

test('fixtures exist', () => assert.ok(fixtures.length >= 7, `${fixtures.length} fixtures`));

// From 4 KiB the package hashes through node:crypto (installed by its Node entry, after
// a check against the wasm's own SHA-256); below, in wasm. Both must be SHA-256.
test('sha256 on both sides of the host threshold', () => {
  for (const n of [0, 1, 4095, 4096, 4097, 65536, 3 << 20]) {
    const bytes = new Uint8Array(n).map((_, i) => (i * 131 + n) & 255);
    assert.equal(sila.sha256(bytes), createHash('sha256').update(bytes).digest('hex'), `${n} bytes`);
  }
});

for (const fx of fixtures) {
  test(`${fx.name}: wasm archives extract with the native CLI to the same bytes`, async () => {
    const t = tmp();
    const files = await sila.readFiles(new sila.NodeFsStore(fx.dir));
    for (const to of ['sqlite', 'zip']) {
      const bytes = sila.convert(files, to);
      const archive = join(t, `ws.${to === 'sqlite' ? 'db' : 'zip'}`);
      writeFileSync(archive, bytes);
      cli('convert', archive, join(t, `out-${to}`));
      assert.deepEqual(listing(join(t, `out-${to}`)), listing(fx.dir));
    }
    // zipToSqlite / sqliteToZip on the wasm side, extracted natively too.
    const db = sila.zipToSqlite(sila.convert(files, 'zip'));
    writeFileSync(join(t, 'z2s.db'), db);
    cli('convert', join(t, 'z2s.db'), join(t, 'out-z2s'));
    assert.deepEqual(listing(join(t, 'out-z2s')), listing(fx.dir));
    rmSync(t, { recursive: true });
  });

  test(`${fx.name}: native CLI archives extract with wasm to the same bytes`, async () => {
    const t = tmp();
    for (const ext of ['db', 'zip']) {
      cli('convert', fx.dir, join(t, `ws.${ext}`));
      const bytes = new Uint8Array(readFileSync(join(t, `ws.${ext}`)));
      assert.deepEqual(filesListing(sila.convert(bytes, 'plain')), listing(fx.dir));
      // Through a store, as a host would unpack it onto disk.
      await sila.writeFiles(new sila.NodeFsStore(join(t, `out-${ext}`)), bytes);
      assert.deepEqual(listing(join(t, `out-${ext}`)), listing(fx.dir));
    }
    const zip = sila.sqliteToZip(new Uint8Array(readFileSync(join(t, 'ws.db'))));
    writeFileSync(join(t, 's2z.zip'), zip);
    cli('convert', join(t, 's2z.zip'), join(t, 'out-s2z'));
    assert.deepEqual(listing(join(t, 'out-s2z')), listing(fx.dir));
    rmSync(t, { recursive: true });
  });

  test(`${fx.name}: show, chat and tree agree with the native CLI`, async () => {
    const files = await sila.readFiles(new sila.NodeFsStore(fx.dir));
    const zip = sila.convert(files, 'zip');
    const summary = sila.show(zip);
    assert.deepEqual(summary, JSON.parse(cli('show', '--json', fx.dir)));
    for (const c of summary.chats) {
      const got = sila.chat(files, c.treeId);
      assert.deepEqual(got, JSON.parse(cli('chat', '--json', fx.dir, c.treeId)), c.treeId);
      if (c.title) assert.deepEqual(sila.chat(zip, c.title).chat, got.chat);
      if (c.hasOps) {
        const native = cli('tree', '--json', fx.dir, c.treeId).trim().split('\n').map((l) => JSON.parse(l).id);
        assert.deepEqual(sila.tree(zip, c.treeId).map((v) => v.id), native);
      }
    }
    assert.throws(() => sila.chat(files, 'no such chat'), (e) => e.code === 'NotFound');
  });

  test(`${fx.name}: info and ops agree with the native CLI`, async () => {
    const files = await sila.readFiles(new sila.NodeFsStore(fx.dir));
    const info = sila.info(files);
    const native = JSON.parse(cli('info', '--json', fx.dir));
    assert.equal(info.spaceId, native.spaceId ?? native.space_id);
    const db = sila.convert(files, 'sqlite');
    const ws = sila.openWorkspace(new sila.NodeFsStore(fx.dir));
    for (const tree of info.trees) {
      const lines = cli('ops', '--tree', tree.id, fx.dir);
      const got = await ws.getOperations(tree.id);
      assert.equal(got.map((o) => o.line + '\n').join(''), lines, tree.id);
      assert.deepEqual(sila.getOperations(db, tree.id), got);
      const day = info.days[0];
      assert.deepEqual(
        await ws.getOperations(tree.id, { from: day, to: day }),
        got.filter((o) => o.day === day),
      );
    }
    const report = sila.verify(files);
    assert.equal(report.errors.length, 0, JSON.stringify(report.errors));
    if (fx.name === 'citybean-coffee-wrong-space-id') {
      assert.ok(report.warnings.some((w) => w.code === 'SpaceJsonNamesAppTree'), JSON.stringify(report.warnings));
    }
  });
}

test('errors carry a stable code and nothing is written', async () => {
  const files = await sila.readFiles(new sila.NodeFsStore(join(ROOT, 'tests/fixtures/rich')));
  const code = (f) => {
    try {
      f();
    } catch (e) {
      assert.ok(e instanceof Error);
      return e.code;
    }
    return 'no error';
  };
  const cas = files.find((f) => f.path.startsWith('space-v1/files/static/'));
  const tampered = files.map((f) => (f === cas ? { path: f.path, bytes: new Uint8Array([...f.bytes, 1]) } : f));
  assert.equal(code(() => sila.convert(tampered, 'zip')), 'HashMismatch');
  const db = sila.convert(files, 'sqlite');
  const future = db.slice();
  future.set([0, 0, 0, 99], 60); // user_version
  assert.equal(code(() => sila.sqliteToZip(future)), 'UnsupportedVersion');
  assert.equal(code(() => sila.convert([{ path: '../evil', bytes: new Uint8Array(1) }], 'zip')), 'UnsafePath');
  assert.equal(code(() => sila.zipToSqlite(db)), 'NotAnArchive');
  assert.equal(code(() => sila.convert(new Uint8Array([1, 2, 3]), 'zip')), 'NotAWorkspace');
  assert.equal(code(() => sila.sqliteToZip(db.slice(0, 8192))), 'Corrupt');
  const badLine = [...files, { path: files.find((f) => f.path.endsWith('-p.jsonl')).path.replace(/[^/]+$/, 'ab-p.jsonl'), bytes: new Uint8Array([0xff, 0x0a]) }];
  assert.equal(code(() => sila.convert(badLine, 'zip')), 'InvalidUtf8');
  // A store refuses an unsafe path before touching the disk.
  const t = tmp();
  await assert.rejects(new sila.NodeFsStore(t).write('space-v1/../../x', new Uint8Array(1)), { code: 'UnsafePath' });
  // writeFiles verifies first: a workspace that does not convert writes nothing.
  await assert.rejects(sila.writeFiles(new sila.NodeFsStore(join(t, 'w')), tampered), { code: 'HashMismatch' });
  assert.equal(existsSync(join(t, 'w')), false);
});

test('progress is reported for long work', async () => {
  const files = await sila.readFiles(new sila.NodeFsStore(join(ROOT, 'tests/fixtures/citybean-coffee-complete')));
  const seen = [];
  sila.convert(files, 'zip', { onProgress: (p) => seen.push(p) });
  const total = files.reduce((n, f) => n + f.bytes.length, 0);
  assert.ok(seen.length >= files.length, `${seen.length} progress calls`);
  for (const p of seen) assert.ok(p.done <= p.total && p.total === total && typeof p.phase === 'string');
  assert.deepEqual([...new Set(seen.map((p) => p.phase))], ['converting', 'verifying']);
  assert.equal(seen.at(-1).done, total);
});

test('WorkspaceStorage over a folder: put, get, sync, archive and unarchive', async () => {
  const t = tmp();
  cpSync(join(ROOT, 'tests/fixtures/rich'), join(t, 'ws'), { recursive: true });
  const before = listing(join(t, 'ws'));
  const ws = sila.openWorkspace(new sila.NodeFsStore(join(t, 'ws')));
  assert.equal(await ws.getWorkspaceFormat(), 'plain');
  const tree = (await ws.info()).spaceId;
  const all = await ws.getOperations(tree);

  // Archive: one SQLite file, the same ops, plain files gone; then back, byte for byte.
  const phases = new Set();
  await ws.convertToSQLite({ onProgress: (p) => phases.add(p.phase) });
  assert.ok(phases.has('converting') && phases.has('verifying'), [...phases].join());
  assert.equal(await ws.getWorkspaceFormat(), 'sqlite');
  assert.deepEqual(Object.keys(listing(join(t, 'ws'))), [sila.ARCHIVE_PATH]);
  assert.deepEqual(await ws.getOperations(tree), all);
  await ws.convertToPlainFiles();
  assert.deepEqual(listing(join(t, 'ws')), before);

  // putOperation appends to today's file of the peer, once.
  const op = { id: { counter: 900001, peerId: 'npmtestpeer' }, targetId: 'v1', key: 'name', value: 'café ☕', transient: false };
  await ws.putOperation(tree, op);
  await ws.putOperation(tree, op);
  await ws.putOperation(tree, { ...op, id: { counter: 900002, peerId: 'npmtestpeer' }, transient: true });
  const mine = (await ws.getOperations(tree)).filter((o) => o.peer === 'npmtestpeer');
  assert.deepEqual(mine.map((o) => o.line), ['[900001,"v1","name","café ☕"]']);
  assert.equal(mine[0].day, new Date().toISOString().slice(0, 10));

  // syncWorkspace: stores what the client sent, returns what it lacks.
  const move = { id: { counter: 900003, peerId: 'npmtestpeer' }, targetId: 'v2', parentId: null };
  const missing = await ws.syncWorkspace(tree, [move], { npmtestpeer: [[1, 900001]] });
  assert.equal(missing.length, all.length);
  assert.ok(!missing.some((o) => o.id.peerId === 'npmtestpeer'));
  assert.equal((await ws.syncWorkspace(tree, [], null)).length, all.length + 2);

  // Files by hash, checked.
  const hash = await ws.putFile(new TextEncoder().encode('hello'));
  assert.equal(hash, '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
  assert.equal(new TextDecoder().decode(await ws.getFile(hash)), 'hello');
  await assert.rejects(ws.getFile('00'.repeat(32)), { code: 'NotFound' });
  writeFileSync(join(t, 'ws', 'space-v1/files/static/sha256/2c/f24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'), 'bye');
  await assert.rejects(ws.getFile(hash), { code: 'HashMismatch' });
  rmSync(t, { recursive: true });
});

test('CallbackStore: any host storage through four async functions', async () => {
  const map = new Map();
  const store = new sila.CallbackStore({
    list: async () => [...map.keys()],
    read: async (p) => map.get(p) ?? null,
    write: async (p, b) => void map.set(p, b),
    remove: async (p) => void map.delete(p),
  });
  const fixture = join(ROOT, 'tests/fixtures/legacy');
  const n = await sila.writeFiles(store, await sila.readFiles(new sila.NodeFsStore(fixture)));
  assert.equal(n, map.size);
  assert.deepEqual(filesListing(await sila.readFiles(store)), listing(fixture));
  const ws = sila.openWorkspace(store);
  await ws.convertToSQLite();
  assert.deepEqual([...map.keys()], [sila.ARCHIVE_PATH]);
  await ws.convertToPlainFiles();
  assert.deepEqual(filesListing(await sila.readFiles(store)), listing(fixture));
  assert.throws(() => new sila.CallbackStore({ list: async () => [] }), { code: 'InvalidArgument' });
});

// A random value with what breaks serialisers that are not JavaScript's.
function trickyValue(rand, depth = 3) {
  const pick = (a) => a[Math.floor(rand() * a.length)];
  const k = Math.floor(rand() * (depth ? 7 : 5));
  if (k === 0) return pick([null, true, false]);
  if (k === 1) {
    const dv = new DataView(new ArrayBuffer(8));
    for (;;) {
      dv.setUint32(0, Math.floor(rand() * 2 ** 32));
      dv.setUint32(4, Math.floor(rand() * 2 ** 32));
      const x = dv.getFloat64(0);
      if (Number.isFinite(x)) return x;
    }
  }
  if (k === 2) return pick([0.000001, 1e21, 1e-7, -0, 18446744073709552000, 5e-324, 0.1 + 0.2, 123456789]);
  if (k === 3) return pick(['\ud800', 'a\udfffb', '\u2028\u2029', 'é😀', '\u001f"\\', '', 'x']);
  if (k === 4) return Math.floor(rand() * 2e6) - 1e6;
  if (k === 5) return Array.from({ length: Math.floor(rand() * 4) }, () => trickyValue(rand, depth - 1));
  const o = {};
  for (let i = Math.floor(rand() * 5); i > 0; i--) o[pick(['b', 'a', '10', '2', '01', '4294967295', 'z'])] = trickyValue(rand, depth - 1);
  return o;
}

test('putOperations and syncWorkspace store 300 tricky values as JSON.stringify writes them', async () => {
  let seed = 300;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const t = tmp();
  cpSync(join(ROOT, 'tests/fixtures/rich'), join(t, 'ws'), { recursive: true });
  const ws = sila.openWorkspace(new sila.NodeFsStore(join(t, 'ws')));
  const tree = (await ws.info()).spaceId;
  const peer = 'abcdefabcdefabcdefabcdefabcdef01';
  const ops = Array.from({ length: 300 }, (_, i) => ({
    id: { counter: 700000 + i, peerId: peer }, targetId: 'v', key: 'k', value: trickyValue(rand), transient: false,
  }));
  // Half through putOperations, half through syncWorkspace.
  assert.equal(await ws.putOperations(tree, ops.slice(0, 150), { day: '2026-03-20' }), 150);
  await ws.syncWorkspace(tree, ops.slice(150), null);
  const lines = (await ws.getOperations(tree)).filter((o) => o.peer === peer).map((o) => o.line);
  const want = ops.map((o) => `[${o.id.counter},"v","k",${JSON.stringify(o.value)}]`);
  assert.equal(lines.filter((l, i) => l !== want[i]).length, 0);
  assert.deepEqual(lines, want);
  // Stored once: again on another day changes nothing.
  assert.equal(await ws.putOperations(tree, ops, { day: '2026-03-21' }), 0);
  // A second client gets every value back unchanged (null is a value, not a deletion).
  const back = (await ws.syncWorkspace(tree, [], null)).filter((o) => o.id.peerId === peer);
  assert.equal(back.length, 300);
  for (let i = 0; i < 300; i++) {
    const v = ops[i].value;
    const empty = v && typeof v === 'object' && Object.keys(v).length === 0;
    if (empty) assert.ok(!('value' in back[i]), 'an empty object or array reads as a deletion, as in Sila');
    else assert.equal(JSON.stringify(back[i].value), JSON.stringify(v));
  }
  rmSync(t, { recursive: true });
});

test('putOperations never glues a line onto a file without its last newline', async () => {
  const store = new sila.MemoryStore();
  const ws = sila.openWorkspace(store);
  const tree = 'b3ee88fc46bb4ac1bd8012feac0a7d6c';
  const peer = 'abcdefabcdefabcdefabcdefabcdef02';
  const path = `space-v1/ops/b3/ee88fc46bb4ac1bd8012feac0a7d6c/2026/03/20/${peer}-m.jsonl`;
  await store.write(path, new TextEncoder().encode('[1,"v1",null]'));
  await ws.putOperations(tree, [{ id: { counter: 2, peerId: peer }, targetId: 'v2', parentId: null }], { day: '2026-03-20' });
  assert.equal(new TextDecoder().decode(await store.read(path)), '[1,"v1",null]\n[2,"v2",null]\n');
});

// The engine's conformance suite (tests/conformance, the same checks as every native
// backend) on each store of the package, as Node runs them.
const conformanceBackends = {
  MemoryStore: () => new sila.MemoryStore(),
  'CallbackStore (with append)': () => {
    const m = new sila.MemoryStore();
    return new sila.CallbackStore({
      list: (p) => m.list(p), read: (p) => m.read(p), write: (p, b) => m.write(p, b), remove: (p) => m.remove(p), append: (p, b) => m.append(p, b),
    });
  },
  'CallbackStore (read + write only)': () => {
    const map = new Map();
    return new sila.CallbackStore({
      list: async () => [...map.keys()], read: async (p) => map.get(p) ?? null, write: async (p, b) => void map.set(p, b.slice()), remove: async (p) => void map.delete(p),
    });
  },
  NodeFsStore: () => new sila.NodeFsStore(join(tmp(), 'ws')),
};
for (const [backend, make] of Object.entries(conformanceBackends)) {
  test(`conformance: ${backend}`, async () => {
    const r = await sila.checkStore(make, { tiers: true });
    console.log(`conformance: ${backend}: ${r.passed.length} checks passed, ${r.failed.length} failed`);
    assert.deepEqual(r.failed, []);
    assert.equal(r.passed.length, 15);
  });
}

test('conformance: a store that loses appends fails the suite, with the checks named', async () => {
  const r = await sila.checkStore(() => {
    const m = new sila.MemoryStore();
    m.append = async () => {};
    return m;
  });
  assert.ok(r.failed.some((f) => f.check === 'placement'), JSON.stringify(r.failed));
});
