// The npm package's web entry in real Chromium: every fixture from a ZIP made by the
// native CLI into OPFS and back, archive/unarchive in OPFS, and Sila's own IndexedDB
// database (created with Dexie and Sila's schema) read and written by IndexedDbStore.
import * as sila from './node_modules/sila-store/web.js';
import Dexie from './node_modules/dexie/dist/dexie.mjs';
import { decryptSecrets } from './node_modules/sila-store/wasm/sila_store_wasm.js';
import { openWithDexie, seedSilaDb } from './sila-db.mjs';


function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}
const same = (a, b, msg) => assert(JSON.stringify(a) === JSON.stringify(b), `${msg}\n  got      ${JSON.stringify(a).slice(0, 400)}\n  expected ${JSON.stringify(b).slice(0, 400)}`);
const listing = (files) => Object.fromEntries(files.map((f) => [f.path, sila.sha256(f.bytes)]).sort());
const fetchBytes = async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer());
const opsOf = (files) => {
  const out = [];
  for (const f of files) if (/\/ops\//.test(f.path)) {
    const tree = f.path.split('/').slice(2, 4).join('');
    for (const op of sila.parseOpsFile(f.path, f.bytes)) out.push(JSON.stringify([tree, op]));
  }
  return out.sort();
};

export async function run(log, { worker = false } = {}) {
  const results = [];
  const check = async (name, f) => {
    try {
      await f();
      results.push({ name, ok: true });
    } catch (e) {
      results.push({ name, ok: false, error: `${e?.code ?? ''} ${e?.stack ?? e}` });
    }
    log(`${results.at(-1).ok ? 'ok' : 'FAIL'} ${name}`);
  };
  const names = await (await fetch('./fixtures/index.json')).json();
  const prefix = worker ? 'w-' : 'p-';

  // The engine's conformance suite (tests/conformance) on OpfsStore: a fresh OPFS
  // directory per check.
  await check('conformance: OpfsStore', async () => {
    let n = 0;
    const r = await sila.checkStore(async () => {
      const dir = `${prefix}conformance-${n++}`;
      await sila.OpfsStore.removeDirectory(dir).catch(() => {});
      return sila.OpfsStore.open(dir);
    }, { tiers: true });
    log(`conformance: OpfsStore: ${r.passed.length} checks passed, ${r.failed.length} failed`);
    same(r.failed, [], 'failed checks');
    assert(r.passed.length === 15, `${r.passed.length} checks passed`);
    for (let i = 0; i < n; i++) await sila.OpfsStore.removeDirectory(`${prefix}conformance-${i}`).catch(() => {});
  });

  // IndexedDbStore keeps ops as Sila's Dexie rows, values as JS values: no day folders
  // (an op is placed in the day of its tree's newest `_c` when read), no files of its
  // own, and no line bytes: a line's value is what Sila reads from it, so `[]` and `{}`
  // (deletions to Sila) come back as `{}`. The checks of placement, of the byte-store
  // contract and of byte-exact lines do not apply to it; these do.
  await check('conformance: IndexedDbStore (Sila\'s Dexie rows; files in a MemoryStore)', async () => {
    let n = 0;
    const only = ['bad_batch_stores_nothing', 'files'];
    const r = await sila.checkStore(async () => {
      const db = await sila.openSilaDb(`${prefix}conformance-idb-${n++}`);
      return new sila.IndexedDbStore(db, { spaceId: 'b3ee88fc46bb4ac1bd8012feac0a7d6c', files: new sila.MemoryStore(), exportDay: '2026-03-20' });
    }, { only });
    log(`conformance: IndexedDbStore: ${r.passed.length} checks passed, ${r.failed.length} failed`);
    for (const f of r.failed) log(`  ${f.check}: ${f.message.slice(0, 4000)}`);
    same(r.failed, [], 'failed checks');
    same(r.passed, only, 'checks passed');
  });

  for (const name of names) {
    await check(`${name}: native ZIP → OPFS → archived in OPFS → plain, byte for byte`, async () => {
      const zip = await fetchBytes(`./fixtures/${name}.zip`);
      const want = await (await fetch(`./fixtures/${name}.json`)).json();
      const dir = prefix + name;
      await sila.OpfsStore.removeDirectory(dir).catch(() => {});
      const store = await sila.OpfsStore.open(dir);
      await sila.writeFiles(store, zip);
      same(listing(await sila.readFiles(store)), want, 'OPFS files');
      const ws = sila.openWorkspace(store);
      const info = await ws.info();
      const ops = {};
      for (const t of info.trees) ops[t.id] = await ws.getOperations(t.id);
      await ws.convertToSQLite();
      same(await store.list(), [sila.ARCHIVE_PATH], 'archived store');
      for (const t of info.trees) same(await ws.getOperations(t.id), ops[t.id], `ops of ${t.id} from the archive`);
      await ws.convertToPlainFiles();
      same(listing(await sila.readFiles(store)), want, 'unarchived files');
      same(listing(sila.convert(sila.zipToSqlite(zip), 'plain')), want, 'zipToSqlite');
      if (!worker) await sila.OpfsStore.removeDirectory(dir);
    });
  }

  await check('a corrupt ZIP or a hash mismatch is refused and OPFS is unchanged', async () => {
    const store = await sila.OpfsStore.open(`${prefix}guard`);
    const zip = await fetchBytes('./fixtures/rich.zip');
    await sila.writeFiles(store, zip);
    const before = listing(await sila.readFiles(store));
    const codeOf = async (p) => p.then(() => 'no error', (e) => e.code);
    same(await codeOf(sila.writeFiles(store, zip.slice(0, zip.length - 100))), 'NotAnArchive', 'cut ZIP');
    const files = sila.convert(zip, 'plain');
    const cas = files.find((f) => f.path.includes('/static/'));
    cas.bytes = new Uint8Array([...cas.bytes, 0]);
    same(await codeOf(sila.writeFiles(store, files)), 'HashMismatch', 'tampered file');
    same(listing(await sila.readFiles(store)), before, 'OPFS after the failures');
    await sila.OpfsStore.removeDirectory(`${prefix}guard`);
  });

  if (worker) return results;

  for (const name of ['rich', 'legacy', 'citybean-coffee-complete']) {
    await check(`${name}: Sila's Dexie database → IndexedDbStore → plain files (same ops, secrets re-encrypted)`, async () => {
      const zip = await fetchBytes(`./fixtures/${name}.zip`);
      const files = sila.convert(zip, 'plain');
      // Fill Sila's database the way Sila's IndexedDB layer does, through Dexie.
      await Dexie.delete('sila');
      const { spaceId, secrets } = await seedSilaDb({ Dexie, sila, decryptSecrets }, files, { name });
      const secretsFile = files.find((f) => f.path === 'space-v1/secrets');

      const blobs = new sila.MemoryStore(files.filter((f) => f.path.includes('/files/')));
      const store = await sila.IndexedDbStore.open({ spaceId, files: blobs, exportDay: '2026-11-25' });
      const out = await sila.readFiles(store);
      same(opsOf(out), opsOf(files), 'ops exported from IndexedDB');
      const report = sila.verify(out);
      same(report.errors, [], 'verify of the export');
      const exported = out.find((f) => f.path === 'space-v1/secrets');
      same(!!exported, !!secretsFile, 'secrets file present');
      if (exported) {
        // IndexedDB hands rows back in key order, so the keys may come in another order.
        const sorted = (o) => Object.entries(o).sort();
        same(sorted(decryptSecrets(spaceId, exported.bytes)), sorted(secrets), 'secrets re-encrypted with key A');
      }
      // The day rule: every op lands in the day of the newest `_c` at or before it.
      for (const f of out) if (f.path.includes('/ops/')) assert(/\/\d{4}\/\d{2}\/\d{2}\/[^/]+-[mp]\.jsonl$/.test(f.path), f.path);
      store.db.close();
    });
  }

  await check('IndexedDbStore imports a workspace into Sila\'s database, and Dexie reads it back', async () => {
    await Dexie.delete('sila');
    const zip = await fetchBytes('./fixtures/citybean-coffee.zip');
    const files = sila.convert(zip, 'plain');
    const spaceId = sila.info(files).spaceId;
    // A fresh database made by us must be one Dexie opens with Sila's schema as is.
    const store = await sila.IndexedDbStore.open({ spaceId, name: 'Citybean', files: new sila.MemoryStore() });
    await sila.writeFiles(store, zip);
    store.db.close();
    const db = await openWithDexie(Dexie);
    const space = await db.spaces.get(`local://${spaceId}`);
    same(space?.id, spaceId, 'spaces row');
    const ref = (await db.spaceRefs.where('[spaceUri+spaceId]').equals([`local://${spaceId}`, spaceId]).first()).spaceRefId;
    const rows = await db.treeOps.where('spaceRefId').equals(ref).toArray();
    const unique = new Set(opsOf(files).map((s) => { const [t, op] = JSON.parse(s); return `${t}/${op.id.counter}/${op.id.peerId}`; }));
    same(rows.length, unique.size, 'treeOps rows (one per op id)');
    assert(rows.every((r) => typeof r.clock === 'number' && r.spaceRefId === ref), 'row shape');
    assert(rows.some((r) => r.parentId === null) && rows.some((r) => 'key' in r && r.parentId === undefined), 'moves and props');
    const secrets = await db.secrets.where('spaceRefId').equals(ref).toArray();
    if (files.some((f) => f.path === 'space-v1/secrets')) assert(secrets.length > 0 && secrets.every((s) => typeof s.value === 'string'), 'plaintext secrets');
    db.close();
  });

  return results;
}
