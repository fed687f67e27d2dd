// bench/node-files: one way through (see the shell script), timed per step.
const [pkg, mode, src, work] = process.argv.slice(2);
const sila = await import(pkg);
const { rmSync } = await import('node:fs');
const { join } = await import('node:path');
const steps = [];
let rss = 0;
const sample = () => { rss = Math.max(rss, process.memoryUsage().rss); };
const timer = setInterval(sample, 50);
async function step(name, f) {
  const t0 = performance.now();
  const out = await f();
  sample();
  steps.push(`${name} ${(performance.now() - t0).toFixed(0)} ms`);
  return out;
}
const t0 = performance.now();
if (mode === 'files') {
  const db = join(work, 'ws.db'), zip = join(work, 'ws.zip');
  const ws = sila.openWorkspace(new sila.NodeFsStore(src));
  await step('plain->sqlite', () => sila.createFile(db, (f) => ws.exportTo(f, 'sqlite')));
  await step('sqlite->zip', () => sila.createFile(zip, (f) => {
    const s = sila.NodeFile.open(db);
    try { return sila.convertFile(s, f, 'zip'); } finally { s.close(); }
  }));
  await step('zip->plain', async () => {
    const f = sila.NodeFile.open(zip);
    try { return await sila.openWorkspace(new sila.NodeFsStore(join(work, 'out'))).importFrom(f); } finally { f.close(); }
  });
} else {
  const files = await step('read files', () => sila.readFiles(new sila.NodeFsStore(src)));
  const db = await step('plain->sqlite', () => sila.convert(files, 'sqlite'));
  const zip = await step('sqlite->zip', () => sila.convert(db, 'zip'));
  await step('zip->plain', () => sila.writeFiles(new sila.NodeFsStore(join(work, 'out')), zip));
}
clearInterval(timer);
const total = performance.now() - t0;
console.log(`${steps.join(', ')}; total ${total.toFixed(0)} ms`);
console.log(`wasm memory ${(sila.wasmMemoryBytes() / 2 ** 20).toFixed(0)} MiB; process.memoryUsage().rss sampled max ${(rss / 2 ** 20).toFixed(0)} MiB`);
