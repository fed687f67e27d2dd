// Test helper (browser): fills Sila's own IndexedDB database through Dexie, with Sila's
// schema strings (SILA-FORMAT.md §4), the way Sila's IndexedDB layer stores a space:
// a `spaces` row, a `spaceRefs` row, one `treeOps` row per op, plaintext `secrets`.
// Used by suite.mjs and by the web demo's test (served there as /__test__/sila-db.mjs).

/** Sila's Dexie schema, `version(1)`. */
export const SILA_SCHEMA = {
  spaces: '&uri, id, name, createdAt, userId',
  spaceRefs: '++spaceRefId,&[spaceUri+spaceId], spaceUri, spaceId',
  config: '&key',
  treeOps: '&[clock+peerId+treeId+spaceRefId], spaceRefId, treeId, [spaceRefId+treeId]',
  secrets: '&[spaceRefId+key], spaceRefId',
};

/** Opens Sila's database with Dexie. */
export async function openWithDexie(Dexie, dbName = 'sila') {
  const db = new Dexie(dbName);
  db.version(1).stores(SILA_SCHEMA);
  await db.open();
  return db;
}

/** Stores a plain workspace (`{path, bytes}[]`) as Sila would; returns
 * `{spaceId, ref, ops, secrets}` (`ops`: rows in `treeOps`, `secrets`: the decrypted object). */
export async function seedSilaDb({ Dexie, sila, decryptSecrets }, files, { dbName = 'sila', name = null } = {}) {
  const spaceId = sila.info(files).spaceId;
  const db = await openWithDexie(Dexie, dbName);
  try {
    const uri = `local://${spaceId}`;
    await db.spaces.put({ uri, id: spaceId, name, createdAt: new Date(), userId: null, ttabsLayout: null, drafts: null });
    const ref = await db.spaceRefs.add({ spaceUri: uri, spaceId });
    const rows = [];
    for (const f of files) if (f.path.includes('/ops/')) {
      const treeId = f.path.split('/').slice(2, 4).join('');
      for (const op of sila.parseOpsFile(f.path, f.bytes)) {
        const row = { clock: op.id.counter, peerId: op.id.peerId, treeId, spaceRefId: ref, targetId: op.targetId };
        if ('parentId' in op) row.parentId = op.parentId;
        else Object.assign(row, { key: op.key, value: op.value });
        rows.push(row);
      }
    }
    await db.treeOps.bulkPut(rows);
    const secretsFile = files.find((f) => f.path === 'space-v1/secrets');
    const secrets = secretsFile ? decryptSecrets(spaceId, secretsFile.bytes) : {};
    await db.secrets.bulkPut(Object.entries(secrets).map(([key, value]) => ({ spaceRefId: ref, key, value })));
    return { spaceId, ref, ops: await db.treeOps.where('spaceRefId').equals(ref).count(), secrets };
  } finally {
    db.close();
  }
}
