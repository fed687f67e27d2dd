// Serves this folder (the installed package under node_modules, the suite, and the
// fixtures as ZIPs made by the native CLI) on 127.0.0.1 and runs page.html in Debian's
// headless Chromium through playwright-core (no browser download).
// Usage: node run.mjs FIXTURES_DIR [PAGE]   (FIXTURES_DIR holds NAME.zip, NAME.json,
// index.json; PAGE defaults to page.html; a result with `line` prints it as JSON)
import { chromium } from 'playwright-core';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';

const here = new URL('.', import.meta.url).pathname;
const fixtures = process.argv[2];
const types = { '.html': 'text/html', '.mjs': 'text/javascript', '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.zip': 'application/zip' };
const server = createServer((req, res) => {
  const url = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  const rel = normalize(url).replace(/^\/+/, '');
  const file = rel.startsWith('fixtures/') ? join(fixtures, rel.slice(9)) : rel === 'space.zip' ? join(fixtures, rel) : join(here, rel);
  try {
    if (rel.includes('..') || !statSync(file).isFile()) throw new Error('not a file');
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/${process.argv[3] ?? 'page.html'}`;

const ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'sila-store-chromium-')), {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
let failed = 1;
try {
  const page = await ctx.newPage();
  page.on('pageerror', (e) => console.error('[page error]', e.message));
  await page.goto(url);
  const results = await (await page.waitForFunction(() => window.__results, null, { timeout: 1_800_000 })).jsonValue();
  for (const r of results) {
    if (r.ok && r.line) console.log(JSON.stringify(r.line));
    else console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name}${r.ok ? '' : `\n     ${r.error}`}`);
  }
  failed = results.filter((r) => !r.ok).length;
  console.log(`${results.length - failed} passed, ${failed} failed (Chromium ${ctx.browser()?.version() ?? ''})`);
} finally {
  await ctx.close();
  server.close();
}
process.exit(failed ? 1 : 0);
