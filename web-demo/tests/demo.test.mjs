// The web demo as a person uses it, in Debian's headless Chromium (playwright-core,
// executablePath /usr/bin/chromium; no browser download). Run by scripts/test-web-demo,
// which builds the demo and sets SILA_STORE_ROOT, SILA_STORE_CLI and OUT (test output).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { chromium } from 'playwright-core';
import { listing } from '../../bindings-wasm/tests-node/listing.mjs';

const ROOT = process.env.SILA_STORE_ROOT;
const CLI = process.env.SILA_STORE_CLI;
const OUT = process.env.OUT ?? join(ROOT, 'target/test-output/web-demo');
mkdirSync(OUT, { recursive: true });
const DEMO = join(ROOT, 'web-demo');
const work = mkdtempSync(join(tmpdir(), 'sila-store-demo-'));
const cli = (...args) => execFileSync(CLI, args, { encoding: 'utf8' });
const fixture = (name) => join(ROOT, 'tests/fixtures', name);


// A static server for the demo, plus /__test__/ (fixture ZIPs, Dexie, for seeding).
const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json' };
const server = createServer((req, res) => {
  const rel = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^\/+/, '') || 'index.html';
  const file = rel === '__test__/dexie.mjs'
    ? join(ROOT, 'web-demo/tests/node_modules/dexie/dist/dexie.mjs')
    : rel === '__test__/sila-db.mjs' ? join(ROOT, 'bindings-wasm/tests-browser/sila-db.mjs')
    : rel.startsWith('__test__/') ? join(work, rel.slice(9)) : join(DEMO, rel);
  try {
    if (rel.includes('..') || !statSync(file).isFile()) throw new Error();
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  } catch {
    res.writeHead(404).end();
  }
});
let base;
let ctx;
before(async () => {
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}/`;
  ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'sila-store-chromium-')), {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1280, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
});
after(async () => {
  await ctx?.close();
  server.close();
});

async function open(page) {
  page.on('pageerror', (e) => console.error('[page error]', e.message));
  await page.goto(base);
  await page.waitForFunction(() => window.__demo?.ready);
}
const download = async (page, button, to) => {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
  await dl.saveAs(to);
  return to;
};
/** Opens a file through the page's picker and waits until the workspace is shown. */
async function openFile(page, path) {
  const before = await page.evaluate(() => window.__demo.opened ?? 0);
  await page.setInputFiles('#open-archive', path);
  await page.waitForFunction((n) => (window.__demo.opened ?? 0) > n, before, { timeout: 120_000 });
}
const storedNames = (page) => page.$$eval('#stored li', (lis) => lis.map((li) => li.textContent));
async function expectError(page, action, codes) {
  await page.evaluate(() => (document.querySelector('#error').hidden = true));
  await action();
  await page.waitForSelector('#error:not([hidden])');
  const code = await page.getAttribute('#error', 'data-code');
  assert.ok(codes.includes(code), `error code ${code}, expected one of ${codes}`);
  const text = await page.textContent('#error');
  assert.match(text, /Nothing stored in this browser was changed/);
  return text;
}

test('open a fixture ZIP, browse it, convert to SQLite and back, keep it across reloads, refuse bad input, import from Sila\'s IndexedDB', async () => {
  const page = await ctx.newPage();
  await open(page);
  const zip = join(work, 'rich.zip');
  cli('convert', fixture('rich'), zip);

  // Open and look inside.
  await openFile(page, zip);
  assert.equal(await page.textContent('#ws-name'), 'Rich Fixture Workspace (renamed)');
  const stat = (k) => page.textContent(`#stats [data-stat="${k}"] dd`);
  assert.equal(await stat('Ops'), '497');
  assert.equal(await stat('Files'), '40');
  assert.equal(await stat('Trees'), '7');
  assert.match(await page.textContent('#verify'), /Verify: OK/);
  await page.click('#trees tbody tr:first-child');
  await page.waitForSelector('#ops-panel:not([hidden]) #days button');
  assert.match(await page.textContent('#ops'), /^# \d{4}\/\d{2}\/\d{2}\/.+\.jsonl\n\[\d+,"/);
  await page.waitForSelector('#gallery img');
  await page.waitForFunction(() => [...document.querySelectorAll('#gallery img')].every((i) => i.complete && i.naturalWidth > 0));
  await page.screenshot({ path: join(OUT, 'demo.png'), fullPage: true });

  // To SQLite (downloaded; the native CLI restores the fixture from it), and back to ZIP.
  const db = await download(page, '#export-sqlite', join(work, 'dl.db'));
  cli('convert', db, join(work, 'from-db'));
  assert.deepEqual(listing(join(work, 'from-db')), listing(fixture('rich')));
  await openFile(page, db);
  const back = await download(page, '#export-zip', join(work, 'dl.zip'));
  cli('convert', back, join(work, 'from-zip'));
  assert.deepEqual(listing(join(work, 'from-zip')), listing(fixture('rich')));

  // Reload: still there (OPFS).
  await page.reload();
  await page.waitForFunction(() => window.__demo?.ready);
  await page.waitForFunction(() => document.querySelector('#ws-name')?.textContent === 'Rich Fixture Workspace (renamed)');
  const stored = await storedNames(page);
  assert.equal(stored.length, 1);

  // Bad input: a clear message each, and OPFS unchanged.
  const notWs = join(work, 'not-a-workspace.zip');
  execFileSync('python3', ['-c', 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1], "w"); z.writestr("notes.txt", "hello"); z.close()', notWs]);
  await expectError(page, () => page.setInputFiles('#open-archive', notWs), ['NotAnArchive', 'NotAWorkspace']);
  const cut = join(work, 'cut.zip');
  writeFileSync(cut, readFileSync(zip).subarray(0, 20000));
  await expectError(page, () => page.setInputFiles('#open-archive', cut), ['NotAnArchive', 'Corrupt']);
  const tampered = join(work, 'tampered');
  cpSync(fixture('rich'), tampered, { recursive: true });
  const blobDir = join(tampered, 'space-v1/files/static/sha256');
  const blob = readdirSync(blobDir, { recursive: true }).map(String).find((p) => statSync(join(blobDir, p)).isFile());
  appendFileSync(join(blobDir, blob), 'x');
  const text = await expectError(page, () => page.setInputFiles('#open-folder', tampered), ['HashMismatch']);
  assert.match(text, /does not match its SHA-256/);
  assert.deepEqual(await storedNames(page), stored);

  // Sila's own IndexedDB (made with Dexie and Sila's schema) → the demo.
  cli('convert', fixture('legacy'), join(work, 'legacy.zip'));
  const seeded = await page.evaluate(async () => {
    const { default: Dexie } = await import('/__test__/dexie.mjs');
    const { seedSilaDb } = await import('/__test__/sila-db.mjs');
    const sila = await import('/pkg/sila-store/web.js');
    const { decryptSecrets } = await import('/pkg/sila-store/wasm/sila_store_wasm.js');
    const files = sila.convert(new Uint8Array(await (await fetch('/__test__/legacy.zip')).arrayBuffer()), 'plain');
    return seedSilaDb({ Dexie, sila, decryptSecrets }, files, { name: 'Legacy (from IndexedDB)' });
  });
  await page.click('#open-idb');
  await page.click(`#idb-spaces li[data-space-id="${seeded.spaceId}"]`);
  await page.waitForFunction((id) => document.querySelector('#ws-id')?.textContent.includes(id), seeded.spaceId);
  assert.equal((await stat('Ops')).replace(/,/g, ''), String(seeded.ops));
  assert.equal((await storedNames(page)).length, 2);
  await page.close();
});

test('chats read as Sila shows them (the text of sila-store chat --json), Markdown rendered safely, search finds a message', async () => {
  const page = await ctx.newPage();
  await open(page);
  const zip = join(work, 'rich-chats.zip');
  cli('convert', fixture('rich'), zip);
  await openFile(page, zip);
  const shown = JSON.parse(cli('show', '--json', fixture('rich')));
  const listed = await page.$$eval('#chats li', (lis) => lis.map((li) => li.dataset.tree));
  assert.deepEqual(listed, shown.chats.map((c) => c.treeId));
  for (const c of shown.chats.filter((x) => x.hasOps)) {
    await page.click(`#chats li[data-tree="${c.treeId}"]`);
    await page.waitForFunction((t) => window.__demo.chatShown === t, c.treeId);
    const native = JSON.parse(cli('chat', '--json', fixture('rich'), c.treeId));
    const got = await page.$$eval('#messages li', (lis) => lis.map((li) => ({ id: li.dataset.id, role: li.dataset.role, text: li.dataset.text })));
    assert.deepEqual(got, native.messages.map((m) => ({ id: m.id, role: m.role ?? '', text: m.text ?? '' })), c.title);
    // Rendered, never as HTML: no element of the page came from a message's text.
    const injected = await page.$$eval('#messages script, #messages iframe, #messages img[onerror], #messages [onclick]', (e) => e.length);
    assert.equal(injected, 0);
  }
  // The README's picture of a conversation (docs/web-demo-chat.png).
  const first = shown.chats.find((x) => x.hasOps);
  await page.click(`#chats li[data-tree="${first.treeId}"]`);
  await page.waitForFunction((t) => window.__demo.chatShown === t, first.treeId);
  await page.waitForTimeout(300);
  await page.locator('#chats-panel').screenshot({ path: join(OUT, 'chat.png') });

  // Search: a word of one message finds it; clicking the hit opens its chat there.
  const chatWithText = shown.chats.find((c) => c.hasOps);
  const target = JSON.parse(cli('chat', '--json', fixture('rich'), chatWithText.treeId)).messages.find((m) => (m.text ?? '').length > 20);
  const word = target.text.split(/\s+/).find((w) => /^[\p{L}]{6,}$/u.test(w)) ?? target.text.slice(0, 12);
  await page.fill('#chat-search', word);
  await page.waitForSelector(`#search-hits li[data-id="${target.id}"]`);
  await page.click(`#search-hits li[data-id="${target.id}"]`);
  await page.waitForSelector(`#messages li.found[data-id="${target.id}"]`);
  await page.fill('#chat-search', 'zzzz-no-message-has-this');
  await page.waitForFunction(() => document.querySelector('#search-hits')?.textContent.includes('No message holds that text.'));
  await page.close();
});

test('Markdown of a message renders as text nodes only', async () => {
  const page = await ctx.newPage();
  await open(page);
  const html = await page.evaluate(async () => {
    const { renderMarkdown } = await import('/markdown.js');
    const div = document.createElement('div');
    div.append(renderMarkdown('# Title\n\n**bold** and *it* `x<y>` [ok](https://example.org) [bad](javascript:alert(1)) ![pic](https://example.org/x.png)\n<img src=x onerror=alert(1)>\n\n- a\n- b\n\n```js\n<script>1</script>\n```\n> quote'));
    return div.innerHTML;
  });
  assert.ok(!/<img|<script|href="javascript:/.test(html), html);
  assert.match(html, /\[bad\]\(javascript:alert\(1\)\)/); // kept as text, not a link
  assert.match(html, /<span class="image-ref">🖼 pic<\/span>/); // named, never fetched
  assert.match(html, /<strong>bold<\/strong>/);
  assert.match(html, /<a href="https:\/\/example.org\/?"/);
  assert.match(html, /&lt;img src=x onerror=alert\(1\)&gt;/);
  assert.match(html, /<pre data-lang="js"><code>&lt;script&gt;1&lt;\/script&gt;<\/code><\/pre>/);
  assert.match(html, /<ul><li>a<\/li><li>b<\/li><\/ul>/);
  await page.close();
});

test('a 50 MB workspace converts in the worker: progress shown, main thread never blocked over 200 ms', async () => {
  // The largest fixture first, for the figure in the closing note.
  const page = await ctx.newPage();
  await open(page);
  const largest = join(work, 'citybean-coffee-complete.zip');
  cli('convert', fixture('citybean-coffee-complete'), largest);
  await openFile(page, largest);
  await download(page, '#export-sqlite', join(work, 'citybean.db'));
  const small = await page.evaluate(() => window.__demo.timings);

  // Build ≥ 50 MB: the rich fixture + 48 incompressible 1 MiB blobs + 40,000 ops.
  const big = join(work, 'big');
  cpSync(fixture('rich'), big, { recursive: true });
  for (let i = 0; i < 48; i++) {
    const b = randomBytes(1 << 20);
    const h = createHash('sha256').update(b).digest('hex');
    mkdirSync(join(big, 'space-v1/files/static/sha256', h.slice(0, 2)), { recursive: true });
    writeFileSync(join(big, 'space-v1/files/static/sha256', h.slice(0, 2), h.slice(2)), b);
  }
  const opsDir = join(big, 'space-v1/ops/ab/cdef0123456789abcdef0123456789/2026/03/20');
  mkdirSync(opsDir, { recursive: true });
  let lines = '';
  for (let i = 1; i <= 40000; i++) lines += `[${i},"v${i % 997}","text","generated line ${i} ${'x'.repeat(i % 50)}"]\n`;
  writeFileSync(join(opsDir, 'benchpeer-p.jsonl'), lines);
  const bigZip = join(work, 'big.zip');
  cli('convert', big, bigZip);
  const size = statSync(bigZip).size;
  assert.ok(size >= 50e6, `${size} bytes`);

  await openFile(page, bigZip);
  // Watch the main thread while converting: a 10 ms heartbeat and long tasks.
  await page.evaluate(() => {
    const w = (window.__watch = { maxGap: 0, maxLongTask: 0, last: performance.now() });
    w.timer = setInterval(() => {
      const now = performance.now();
      w.maxGap = Math.max(w.maxGap, now - w.last);
      w.last = now;
    }, 10);
    new PerformanceObserver((l) => l.getEntries().forEach((e) => (w.maxLongTask = Math.max(w.maxLongTask, e.duration)))).observe({ type: 'longtask' });
    window.__demo.progress.length = 0;
  });
  const progressShown = page.waitForSelector('#status:not([hidden]) #progress[value]', { timeout: 60_000 });
  await download(page, '#export-sqlite', join(work, 'big.db'));
  await progressShown;
  const watch = await page.evaluate(() => (clearInterval(window.__watch.timer), { ...window.__watch, progress: window.__demo.progress, timings: window.__demo.timings }));
  const partial = watch.progress.filter((p) => p.done < p.total);
  assert.ok(partial.length >= 3, `${partial.length} intermediate progress updates`);
  assert.ok(watch.maxGap < 200, `main thread blocked for ${watch.maxGap.toFixed(0)} ms`);
  assert.ok(watch.maxLongTask < 200, `a long task of ${watch.maxLongTask.toFixed(0)} ms`);
  cli('verify', join(work, 'big.db'));
  const figures = {
    largestFixture: { name: 'citybean-coffee-complete', exportSqliteMs: Math.round(small['export-sqlite']), importMs: Math.round(small.import) },
    big: { zipBytes: size, exportSqliteMs: Math.round(watch.timings['export-sqlite']), maxHeartbeatGapMs: Math.round(watch.maxGap), maxLongTaskMs: Math.round(watch.maxLongTask), progressUpdates: watch.progress.length },
  };
  writeFileSync(join(OUT, 'figures.json'), JSON.stringify(figures, null, 2));
  console.log(JSON.stringify(figures));
  await page.close();
});
